// GGUF reader: mmaps a model file, parses its metadata and tensor index, and validates every
// offset, count and size before anything is used, so a corrupt file is an Error, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gguf/ggml_type.h"

namespace nagare {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// Short name of a value type as used in messages and listings: "u8", "string", "array", ...
std::string_view gguf_value_type_name(GgufValueType t);

struct GgufValue;

// An array of metadata values, stored compactly: a tokenizer's vocabulary (262,144 strings,
// scores and types for Gemma 3) took 48 bytes an item as GgufValues, 37 MiB beside the
// tokenizer's own tables. Numbers and bools are 8-byte words, strings one buffer with end
// offsets, nested arrays values.
class GgufArray {
 public:
  explicit GgufArray(GgufValueType elem_type);
  // Out of line, where GgufValue is complete (clang wants it for the vector of nested values).
  GgufArray(const GgufArray&);
  GgufArray(GgufArray&&) noexcept;
  GgufArray& operator=(const GgufArray&);
  GgufArray& operator=(GgufArray&&) noexcept;
  ~GgufArray();
  GgufValueType elem_type() const { return elem_type_; }
  size_t size() const;
  bool empty() const { return size() == 0; }
  // Item i as a value of its own (strings and nested arrays are copied).
  GgufValue operator[](size_t i) const;
  // Item i without a copy; each throws Error when the elements are not of that kind: a string;
  // any integer or bool (as GgufValue::as_int); any number (as GgufValue::as_float).
  std::string_view string_at(size_t i) const;
  int64_t int_at(size_t i) const;
  double float_at(size_t i) const;

  // Appends an item; throws Error when its type is not elem_type().
  void push_back(const GgufValue& item);
  void reserve(size_t n);
  bool operator==(const GgufArray& o) const;  // floats bitwise, as GgufValue

 private:
  GgufValueType elem_type_;
  std::vector<uint64_t> words_;    // numbers and bools: uint64/int64 bits, doubles bitwise
  std::string chars_;              // strings back to back
  std::vector<uint64_t> ends_;     // end of string i in chars_
  std::vector<GgufValue> nested_;  // arrays of arrays
};

// One metadata value. Integers keep their sign class; floats are widened to double.
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> v;

  bool is_integer() const;
  bool is_float() const { return type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64; }
  int64_t as_int() const;  // any integer type (or bool; u64 above INT64_MAX wraps); throws Error otherwise
  double as_float() const; // any numeric type
  bool as_bool() const;
  const std::string& as_string() const;
  const GgufArray& as_array() const;
  // Short human-readable form: strings quoted, escaped and cut at 80 bytes; arrays show their
  // element type, length and first max_items items.
  std::string to_display(size_t max_items = 8) const;

  // Deep equality: same type and value; floats compare bitwise (so NaN equals itself), arrays
  // by element type and items.
  bool operator==(const GgufValue& other) const;

  // Constructors that keep `type` and the stored alternative consistent; they throw Error when a
  // value does not fit its type (e.g. 300 as u8) or an array item has the wrong type.
  static GgufValue make_uint(GgufValueType t, uint64_t x);  // UINT8/16/32/64
  static GgufValue make_int(GgufValueType t, int64_t x);    // INT8/16/32/64
  static GgufValue make_float(GgufValueType t, double x);   // FLOAT32 (rounded to float)/FLOAT64
  static GgufValue make_bool(bool b);
  static GgufValue make_string(std::string s);
  static GgufValue make_array(GgufValueType elem_type, std::vector<GgufValue> items);
};

// A tensor of an opened file. The reader guarantees: 1 to 4 dims, each >= 1, at most 2^42
// elements, a row length that is a whole number of blocks, and data[0, nbytes) inside the file
// at an offset that is a multiple of the file's alignment.
struct GgufTensor {
  std::string name;
  GgmlType type;
  std::vector<int64_t> dims;  // dims[0] is the contiguous (row) length, as in ggml's ne[]
  uint64_t offset = 0;        // relative to the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t n_elements() const;
  int64_t rows() const { return dims.empty() ? 1 : n_elements() / dims[0]; }
};

class GgufFile {
 public:
  // Opens and validates `path`; throws Error "<path>: <problem>" (corrupt files:
  // "<path>: invalid GGUF file: <problem> (at byte N of SIZE)").
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses a file image held in memory (tests, fuzzing, embedded files); `name` stands in for
  // the path in messages. Tensor data points into the moved-in buffer.
  static std::unique_ptr<GgufFile> from_bytes(const std::string& name, std::vector<uint8_t> bytes);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t file_size() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the tensor data section

  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<std::string>& metadata_order() const { return metadata_order_; }
  const GgufValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  // Typed getters: throw Error naming the key when missing or of the wrong type.
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<double> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;
  // Same, with a default when the key is absent (still throws on a wrong type).
  std::string get_string(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;

  // Drops this process's hold on the mapped file pages: they leave its resident memory but stay
  // in the page cache, and a later read faults them back in. Called once a model has copied
  // (repacked) what it needs, so the file's bytes stop counting twice. No-op for from_bytes.
  void release_pages() const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(const std::string& name) const;
  const GgufTensor& tensor(const std::string& name) const;  // throws Error if absent

 private:
  GgufFile() = default;
  void parse();

  std::string path_;
  int fd_ = -1;
  bool mapped_ = false;
  std::vector<uint8_t> owned_;  // the image, for from_bytes
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<std::string> metadata_order_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace nagare
