// GGUF writer: builds GGUF v3 (or v2) files — metadata of every value type and aligned tensor
// data — for tests and tools that make small model files. Files it writes open with GgufFile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gguf/gguf_file.h"

namespace nagare {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3);  // 2 or 3 (same layout; 3 is what llama.cpp writes)

  // Metadata, written in insertion order; setting an existing key replaces its value in place.
  void set(const std::string& key, GgufValue value);
  void set_u8(const std::string& key, uint8_t x) { set(key, GgufValue::make_uint(GgufValueType::UINT8, x)); }
  void set_i8(const std::string& key, int8_t x) { set(key, GgufValue::make_int(GgufValueType::INT8, x)); }
  void set_u16(const std::string& key, uint16_t x) { set(key, GgufValue::make_uint(GgufValueType::UINT16, x)); }
  void set_i16(const std::string& key, int16_t x) { set(key, GgufValue::make_int(GgufValueType::INT16, x)); }
  void set_u32(const std::string& key, uint32_t x) { set(key, GgufValue::make_uint(GgufValueType::UINT32, x)); }
  void set_i32(const std::string& key, int32_t x) { set(key, GgufValue::make_int(GgufValueType::INT32, x)); }
  void set_u64(const std::string& key, uint64_t x) { set(key, GgufValue::make_uint(GgufValueType::UINT64, x)); }
  void set_i64(const std::string& key, int64_t x) { set(key, GgufValue::make_int(GgufValueType::INT64, x)); }
  void set_f32(const std::string& key, float x) { set(key, GgufValue::make_float(GgufValueType::FLOAT32, x)); }
  void set_f64(const std::string& key, double x) { set(key, GgufValue::make_float(GgufValueType::FLOAT64, x)); }
  void set_bool(const std::string& key, bool x) { set(key, GgufValue::make_bool(x)); }
  void set_string(const std::string& key, std::string x) { set(key, GgufValue::make_string(std::move(x))); }
  void set_string_array(const std::string& key, const std::vector<std::string>& items);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& items);
  void set_f32_array(const std::string& key, const std::vector<float>& items);
  // Alignment of tensor data (power of two); stored as general.alignment (u32), default 32.
  void set_alignment(uint32_t alignment);

  // Appends a tensor (laid out in call order, each at an aligned offset). dims[0] is the row
  // length, as in GgufTensor. Throws Error unless the name is new and at most 63 bytes (llama.cpp's
  // limit), dims are 1 to 4 positive numbers, the row length is a whole number of blocks and
  // `nbytes` equals the size the type and dims imply.
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> dims, const void* data, size_t nbytes);
  void add_tensor_f32(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values);

  // For files too big to hold in memory: declare each tensor by type and shape only (same checks
  // as add_tensor), write header_bytes() (header, metadata, tensor index and padding), then each
  // declared tensor's data in order, each followed by padding_after(its size) zero bytes.
  void add_tensor_info(const std::string& name, GgmlType type, std::vector<int64_t> dims);
  std::vector<uint8_t> header_bytes() const;
  uint64_t padding_after(uint64_t nbytes) const { return (alignment() - nbytes % alignment()) % alignment(); }

  // For tests of readers: written exactly as given with no checks — duplicate keys, any type id,
  // any dims; `offset` (relative to the data section) replaces the computed one in the index.
  void add_raw_metadata(const std::string& key, GgufValue value);
  void add_raw_tensor(const std::string& name, uint32_t type_id, std::vector<uint64_t> dims, std::vector<uint8_t> data,
                      std::optional<uint64_t> offset = std::nullopt);

  size_t metadata_count() const { return kv_.size(); }
  size_t tensor_count() const { return tensors_.size(); }

  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;  // throws Error naming the path on I/O failure

 private:
  struct Tensor {
    std::string name;
    uint32_t type_id;
    std::vector<uint64_t> dims;
    std::vector<uint8_t> data;  // empty for a tensor declared by add_tensor_info
    uint64_t nbytes;
    std::optional<uint64_t> offset;
  };
  uint64_t alignment() const;
  // add_tensor's checks; returns the data size the type and dims imply.
  uint64_t check_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& dims) const;

  uint32_t version_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace nagare
