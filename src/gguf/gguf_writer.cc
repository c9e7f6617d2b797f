// GGUF serialization: header, key/value pairs, tensor index, then tensor data padded to the
// alignment (each tensor padded, as llama.cpp and gguf-py do, so files round-trip byte for byte).
#include "gguf/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/error.h"

namespace nagare {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr size_t kMaxTensorName = 63;    // GGML_MAX_NAME - 1

template <typename T>
void put(std::vector<uint8_t>& out, T x) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &x, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void put_value(std::vector<uint8_t>& out, const GgufValue& v, const std::string& key) {
  auto bad = [&]() -> Error {
    return Error("GGUF writer: value of '" + key + "' does not hold a " +
                 std::string(gguf_value_type_name(v.type)) + " (build it with GgufValue::make_*)");
  };
  auto u = [&]() {
    if (auto* p = std::get_if<uint64_t>(&v.v)) return *p;
    throw bad();
  };
  auto i = [&]() {
    if (auto* p = std::get_if<int64_t>(&v.v)) return *p;
    throw bad();
  };
  auto d = [&]() {
    if (auto* p = std::get_if<double>(&v.v)) return *p;
    throw bad();
  };
  switch (v.type) {
    case GgufValueType::UINT8: put<uint8_t>(out, uint8_t(u())); break;
    case GgufValueType::INT8: put<int8_t>(out, int8_t(i())); break;
    case GgufValueType::UINT16: put<uint16_t>(out, uint16_t(u())); break;
    case GgufValueType::INT16: put<int16_t>(out, int16_t(i())); break;
    case GgufValueType::UINT32: put<uint32_t>(out, uint32_t(u())); break;
    case GgufValueType::INT32: put<int32_t>(out, int32_t(i())); break;
    case GgufValueType::UINT64: put<uint64_t>(out, u()); break;
    case GgufValueType::INT64: put<int64_t>(out, i()); break;
    case GgufValueType::FLOAT32: put<float>(out, float(d())); break;
    case GgufValueType::FLOAT64: put<double>(out, d()); break;
    case GgufValueType::BOOL: {
      auto* p = std::get_if<bool>(&v.v);
      if (!p) throw bad();
      put<uint8_t>(out, *p ? 1 : 0);
      break;
    }
    case GgufValueType::STRING: {
      auto* p = std::get_if<std::string>(&v.v);
      if (!p) throw bad();
      put_string(out, *p);
      break;
    }
    case GgufValueType::ARRAY: {
      auto* p = std::get_if<std::shared_ptr<GgufArray>>(&v.v);
      if (!p || !*p) throw bad();
      const GgufArray& a = **p;
      put<uint32_t>(out, uint32_t(a.elem_type()));
      put<uint64_t>(out, a.size());
      for (size_t i = 0; i < a.size(); ++i) put_value(out, a[i], key);  // items have elem_type(): push_back checks
      break;
    }
    default:
      throw Error("GGUF writer: value of '" + key + "' has unknown type " + std::to_string(uint32_t(v.type)));
  }
}

void pad_to(std::vector<uint8_t>& out, uint64_t alignment) {
  out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
}

}  // namespace

GgufWriter::GgufWriter(uint32_t version) : version_(version) {
  if (version != 2 && version != 3)
    throw Error("GGUF writer: version " + std::to_string(version) + " is not supported (2 or 3)");
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::set_string_array(const std::string& key, const std::vector<std::string>& items) {
  std::vector<GgufValue> vs;
  vs.reserve(items.size());
  for (const auto& s : items) vs.push_back(GgufValue::make_string(s));
  set(key, GgufValue::make_array(GgufValueType::STRING, std::move(vs)));
}

void GgufWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& items) {
  std::vector<GgufValue> vs;
  vs.reserve(items.size());
  for (int32_t x : items) vs.push_back(GgufValue::make_int(GgufValueType::INT32, x));
  set(key, GgufValue::make_array(GgufValueType::INT32, std::move(vs)));
}

void GgufWriter::set_f32_array(const std::string& key, const std::vector<float>& items) {
  std::vector<GgufValue> vs;
  vs.reserve(items.size());
  for (float x : items) vs.push_back(GgufValue::make_float(GgufValueType::FLOAT32, x));
  set(key, GgufValue::make_array(GgufValueType::FLOAT32, std::move(vs)));
}

void GgufWriter::set_alignment(uint32_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    throw Error("GGUF writer: alignment " + std::to_string(alignment) + " is not a power of two");
  set_u32("general.alignment", alignment);
}

uint64_t GgufWriter::alignment() const {
  for (const auto& [k, v] : kv_) {
    if (k != "general.alignment") continue;
    // Raw metadata may hold anything; only a usable value changes the layout.
    if (!v.is_integer()) break;
    int64_t a = v.as_int();
    if (a > 0 && (a & (a - 1)) == 0) return uint64_t(a);
    break;
  }
  return 32;
}

uint64_t GgufWriter::check_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& dims) const {
  auto fail = [&](const std::string& what) { throw Error("GGUF writer: tensor '" + name + "': " + what); };
  if (name.size() > kMaxTensorName) fail("name longer than 63 bytes");
  for (const auto& t : tensors_)
    if (t.name == name) fail("duplicate tensor name");
  auto info = ggml_type_info(uint32_t(type));
  if (!info) fail("unknown type id " + std::to_string(uint32_t(type)));
  if (dims.empty() || dims.size() > 4) fail(std::to_string(dims.size()) + " dimensions (1 to 4 allowed)");
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d <= 0 || uint64_t(d) > (uint64_t(1) << 42) / n) fail("invalid dimension " + std::to_string(d));
    n *= uint64_t(d);
  }
  if (dims[0] % info->block_elements != 0)
    fail("row length " + std::to_string(dims[0]) + " is not a multiple of the block size " +
         std::to_string(info->block_elements));
  return n / info->block_elements * info->block_bytes;
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> dims, const void* data,
                            size_t nbytes) {
  const uint64_t expect = check_tensor(name, type, dims);
  if (nbytes != expect)
    throw Error("GGUF writer: tensor '" + name + "': " + std::to_string(nbytes) + " bytes of data given, expected " +
                std::to_string(expect));
  const uint8_t* p = static_cast<const uint8_t*>(data);
  tensors_.push_back(Tensor{name, uint32_t(type), std::vector<uint64_t>(dims.begin(), dims.end()),
                            std::vector<uint8_t>(p, p + nbytes), nbytes, std::nullopt});
}

void GgufWriter::add_tensor_info(const std::string& name, GgmlType type, std::vector<int64_t> dims) {
  const uint64_t nbytes = check_tensor(name, type, dims);
  tensors_.push_back(Tensor{name, uint32_t(type), std::vector<uint64_t>(dims.begin(), dims.end()), {}, nbytes, std::nullopt});
}

void GgufWriter::add_tensor_f32(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values) {
  add_tensor(name, GgmlType::F32, std::move(dims), values.data(), values.size() * sizeof(float));
}

void GgufWriter::add_raw_metadata(const std::string& key, GgufValue value) { kv_.emplace_back(key, std::move(value)); }

void GgufWriter::add_raw_tensor(const std::string& name, uint32_t type_id, std::vector<uint64_t> dims,
                                std::vector<uint8_t> data, std::optional<uint64_t> offset) {
  const uint64_t nbytes = data.size();
  tensors_.push_back(Tensor{name, type_id, std::move(dims), std::move(data), nbytes, offset});
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  const uint64_t align = alignment();
  std::vector<uint8_t> out;
  put<uint32_t>(out, kMagic);
  put<uint32_t>(out, version_);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [key, value] : kv_) {
    put_string(out, key);
    put<uint32_t>(out, uint32_t(value.type));
    put_value(out, value, key);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(out, d);
    put<uint32_t>(out, t.type_id);
    put<uint64_t>(out, t.offset.value_or(offset));
    offset += (t.nbytes + align - 1) / align * align;
  }
  pad_to(out, align);
  return out;
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  for (const auto& t : tensors_)
    if (t.data.size() != t.nbytes) throw Error("GGUF writer: tensor '" + t.name + "' was declared without data (write it streamed)");
  const uint64_t align = alignment();
  std::vector<uint8_t> out = header_bytes();
  for (const auto& t : tensors_) {
    out.insert(out.end(), t.data.begin(), t.data.end());
    pad_to(out, align);
  }
  return out;
}

void GgufWriter::write(const std::string& path) const {
  std::vector<uint8_t> bytes = to_bytes();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error(path + ": cannot create: " + std::strerror(errno));
  size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
  int err = n == bytes.size() ? 0 : errno;
  if (std::fclose(f) != 0 && err == 0) err = errno;
  if (n != bytes.size() || err != 0) throw Error(path + ": cannot write: " + std::strerror(err ? err : EIO));
}

}  // namespace nagare
