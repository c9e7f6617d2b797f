// Weight-matrix times activations: out[t][r] = dot(W row r, x[t]) for a batch of tokens.
// Each output element is one vec_dot over the whole row, so a token's result never depends on
// the batch it is in (batch invariance), whatever the thread count or batch size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/ggml_type.h"
#include "util/thread_pool.h"

namespace nagare {

// A 2-D weight in GGUF layout: `rows` rows of `cols` contiguous elements of `type`.
struct WeightMatrix {
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_stride = 0;  // bytes per row
};

// Activations of a batch quantized once into one activation format (see activation_type_for);
// every weight whose dot product takes that format can then be multiplied with them.
class QuantizedActivations {
 public:
  // x: n_tokens rows of `cols` floats with row stride x_stride (in floats).
  void quantize(GgmlType act_type, const float* x, int64_t n_tokens, int64_t cols, int64_t x_stride,
                ThreadPool& pool);
  const void* row(int64_t t) const { return buffer_.data() + t * row_bytes_; }
  GgmlType act_type() const { return act_type_; }
  int64_t cols() const { return cols_; }

 private:
  std::vector<uint8_t> buffer_;  // grows to the largest batch seen, then is reused
  size_t row_bytes_ = 0;
  GgmlType act_type_ = GgmlType::F32;
  int64_t cols_ = 0;
};

// out[t * out_stride + r] for r in [0, w.rows), t in [0, n_tokens).
void matmul(const WeightMatrix& w, const QuantizedActivations& x, int64_t n_tokens, float* out,
            int64_t out_stride, ThreadPool& pool);

}  // namespace nagare
