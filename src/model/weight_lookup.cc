#include "model/weight_lookup.h"

#include "kernels/quant.h"
#include "util/error.h"

namespace nagare {

std::string WeightLookup::dims(const GgufTensor& t) {
  std::string s;
  for (auto d : t.dims) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s;
}

Error WeightLookup::shape_error(const GgufTensor& t, const std::string& want) const {
  return Error(f_.path() + ": tensor '" + t.name + "' has shape [" + dims(t) + "], expected [" + want + "]");
}

WeightMatrix WeightLookup::matrix(const std::string& name, int64_t rows, int64_t cols) const {
  const GgufTensor& t = f_.tensor(name);
  if (t.dims.size() != 2 || t.dims[0] != cols || t.dims[1] != rows)
    throw shape_error(t, std::to_string(cols) + " x " + std::to_string(rows));
  if (!is_supported_weight_type(t.type))
    throw Error(f_.path() + ": tensor '" + name + "' has unsupported type " + std::string(ggml_type_name(t.type)));
  return WeightMatrix{t.type, t.data, rows, cols, row_bytes(t.type, cols), nullptr};
}

const float* WeightLookup::vec(const std::string& name, int64_t n) const {
  const GgufTensor& t = f_.tensor(name);
  if (t.type != GgmlType::F32)
    throw Error(f_.path() + ": tensor '" + name + "' must be F32, is " + std::string(ggml_type_name(t.type)));
  if (t.n_elements() != n) throw shape_error(t, std::to_string(n));
  if (reinterpret_cast<uintptr_t>(t.data) % alignof(float) != 0) throw Error(f_.path() + ": tensor '" + name + "' is misaligned");
  return reinterpret_cast<const float*>(t.data);
}

const float* WeightLookup::optional_vec(const std::string& name, int64_t n) const {
  return f_.find_tensor(name) ? vec(name, n) : nullptr;
}

WeightMatrix WeightLookup::row_range(const WeightMatrix& w, int64_t first, int64_t n) {
  return WeightMatrix{w.type, w.data + size_t(first) * w.row_stride, n, w.cols, w.row_stride, nullptr};
}

}  // namespace nagare
