// GGUF parsing. Every read goes through Cursor, which checks bounds against the mapped size.
#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "util/error.h"

namespace nagare {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
// Sanity caps: far above any real model, low enough that a fuzzed count cannot exhaust memory.
constexpr uint64_t kMaxStringBytes = uint64_t(1) << 30;
constexpr uint64_t kMaxArrayItems = uint64_t(1) << 28;
constexpr uint64_t kMaxTensors = uint64_t(1) << 20;
constexpr uint64_t kMaxKeys = uint64_t(1) << 20;
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxNesting = 8;

class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, const std::string& path)
      : base_(base), size_(size), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream s;
    s << path_ << ": invalid GGUF file: " << what << " (at byte " << pos_ << " of " << size_ << ")";
    throw Error(s.str());
  }
  void need(uint64_t n, const char* what) const {
    if (n > size_ - pos_) fail(std::string("truncated while reading ") + what);
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what) {
    uint64_t n = read<uint64_t>(what);
    if (n > kMaxStringBytes) fail(std::string("string length too large in ") + what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

GgufValue read_value(Cursor& c, GgufValueType type, int depth);

GgufArray read_array(Cursor& c, int depth) {
  if (depth > kMaxNesting) c.fail("arrays nested too deeply");
  GgufArray a;
  uint32_t et = c.read<uint32_t>("array element type");
  if (et > uint32_t(GgufValueType::FLOAT64)) c.fail("unknown array element type " + std::to_string(et));
  a.elem_type = GgufValueType(et);
  uint64_t n = c.read<uint64_t>("array length");
  if (n > kMaxArrayItems) c.fail("array length too large");
  // Every element takes at least one byte, so a count beyond the remaining bytes is corrupt.
  c.need(n, "array elements");
  a.items.reserve(n);
  for (uint64_t i = 0; i < n; ++i) a.items.push_back(read_value(c, a.elem_type, depth + 1));
  return a;
}

GgufValue read_value(Cursor& c, GgufValueType type, int depth) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::UINT8: v.v = uint64_t(c.read<uint8_t>("u8")); break;
    case GgufValueType::INT8: v.v = int64_t(c.read<int8_t>("i8")); break;
    case GgufValueType::UINT16: v.v = uint64_t(c.read<uint16_t>("u16")); break;
    case GgufValueType::INT16: v.v = int64_t(c.read<int16_t>("i16")); break;
    case GgufValueType::UINT32: v.v = uint64_t(c.read<uint32_t>("u32")); break;
    case GgufValueType::INT32: v.v = int64_t(c.read<int32_t>("i32")); break;
    case GgufValueType::UINT64: v.v = c.read<uint64_t>("u64"); break;
    case GgufValueType::INT64: v.v = c.read<int64_t>("i64"); break;
    case GgufValueType::FLOAT32: v.v = double(c.read<float>("f32")); break;
    case GgufValueType::FLOAT64: v.v = c.read<double>("f64"); break;
    case GgufValueType::BOOL: {
      uint8_t b = c.read<uint8_t>("bool");
      if (b > 1) c.fail("bool value is not 0 or 1");
      v.v = b != 0;
      break;
    }
    case GgufValueType::STRING: v.v = c.read_string("string value"); break;
    case GgufValueType::ARRAY: v.v = std::make_shared<GgufArray>(read_array(c, depth)); break;
    default: c.fail("unknown value type " + std::to_string(uint32_t(type)));
  }
  return v;
}

std::string type_name(GgufValueType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                "string", "array", "u64", "i64", "f64"};
  uint32_t i = uint32_t(t);
  return i < 13 ? names[i] : "unknown";
}

}  // namespace

bool GgufValue::is_integer() const {
  return std::holds_alternative<uint64_t>(v) || std::holds_alternative<int64_t>(v);
}

int64_t GgufValue::as_int() const {
  if (auto* u = std::get_if<uint64_t>(&v)) return int64_t(*u);
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* b = std::get_if<bool>(&v)) return *b;
  throw Error("expected an integer, found " + type_name(type));
}

double GgufValue::as_float() const {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* u = std::get_if<uint64_t>(&v)) return double(*u);
  if (auto* i = std::get_if<int64_t>(&v)) return double(*i);
  throw Error("expected a number, found " + type_name(type));
}

bool GgufValue::as_bool() const {
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (is_integer()) return as_int() != 0;
  throw Error("expected a bool, found " + type_name(type));
}

const std::string& GgufValue::as_string() const {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  throw Error("expected a string, found " + type_name(type));
}

const GgufArray& GgufValue::as_array() const {
  if (auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v)) return **a;
  throw Error("expected an array, found " + type_name(type));
}

std::string GgufValue::to_display(size_t max_items) const {
  std::ostringstream s;
  if (auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v)) {
    const auto& items = (*a)->items;
    s << "[" << type_name((*a)->elem_type) << " x " << items.size() << "]";
    if (max_items > 0 && !items.empty()) {
      s << " ";
      for (size_t i = 0; i < items.size() && i < max_items; ++i) s << (i ? ", " : "") << items[i].to_display(0);
      if (items.size() > max_items) s << ", ...";
    }
  } else if (auto* str = std::get_if<std::string>(&v)) {
    s << '"' << (str->size() > 80 ? str->substr(0, 77) + "..." : *str) << '"';
  } else if (auto* b = std::get_if<bool>(&v)) {
    s << (*b ? "true" : "false");
  } else if (auto* d = std::get_if<double>(&v)) {
    s << *d;
  } else {
    s << as_int();
  }
  return s.str();
}

int64_t GgufTensor::n_elements() const {
  int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd_ < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(f->fd_, &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  f->size_ = size_t(st.st_size);
  if (f->size_ < 24) throw Error(path + ": invalid GGUF file: too small (" + std::to_string(f->size_) + " bytes)");
  void* m = mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, f->fd_, 0);
  if (m == MAP_FAILED) throw Error(path + ": cannot mmap: " + std::strerror(errno));
  f->base_ = static_cast<const uint8_t*>(m);
  f->parse();
  return f;
}

GgufFile::~GgufFile() {
  if (base_) munmap(const_cast<uint8_t*>(base_), size_);
  if (fd_ >= 0) ::close(fd_);
}

void GgufFile::parse() {
  Cursor c(base_, size_, path_);
  if (c.read<uint32_t>("magic") != kMagic) c.fail("bad magic (not a GGUF file)");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    c.fail("unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  if (n_tensors > kMaxTensors) c.fail("tensor count too large: " + std::to_string(n_tensors));
  if (n_kv > kMaxKeys) c.fail("metadata count too large: " + std::to_string(n_kv));

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key");
    uint32_t t = c.read<uint32_t>("metadata value type");
    if (t > uint32_t(GgufValueType::FLOAT64)) c.fail("unknown metadata value type " + std::to_string(t) + " for key '" + key + "'");
    GgufValue v = read_value(c, GgufValueType(t), 0);
    if (metadata_.count(key)) c.fail("duplicate metadata key '" + key + "'");
    metadata_order_.push_back(key);
    metadata_.emplace(std::move(key), std::move(v));
  }

  if (auto* a = find("general.alignment")) {
    if (!a->is_integer()) c.fail("general.alignment is not an integer");
    int64_t al = a->as_int();
    if (al <= 0 || al > 65536 || (al & (al - 1)) != 0) c.fail("general.alignment must be a power of two, got " + std::to_string(al));
    alignment_ = uint64_t(al);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = c.read_string("tensor name");
    uint32_t nd = c.read<uint32_t>("tensor dimension count");
    if (nd == 0 || nd > kMaxDims) c.fail("tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions");
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t dim = c.read<uint64_t>("tensor dimension");
      if (dim == 0 || dim > (uint64_t(1) << 40)) c.fail("tensor '" + t.name + "' has invalid dimension " + std::to_string(dim));
      t.dims.push_back(int64_t(dim));
    }
    uint32_t type = c.read<uint32_t>("tensor type");
    auto info = ggml_type_info(type);
    if (!info) c.fail("tensor '" + t.name + "' has unknown type id " + std::to_string(type));
    t.type = GgmlType(type);
    t.offset = c.read<uint64_t>("tensor offset");
    // Overflow-safe element count and byte size.
    unsigned __int128 n = 1;
    for (auto d : t.dims) n *= uint64_t(d);
    if (n > (uint64_t(1) << 42)) c.fail("tensor '" + t.name + "' is too large");
    if (t.dims[0] % info->block_elements != 0)
      c.fail("tensor '" + t.name + "' row length " + std::to_string(t.dims[0]) + " is not a multiple of the " +
             std::string(info->name) + " block size " + std::to_string(info->block_elements));
    t.nbytes = size_t(n / info->block_elements * info->block_bytes);
    if (tensor_index_.count(t.name)) c.fail("duplicate tensor name '" + t.name + "'");
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_start > size_) c.fail("data section starts past the end of the file");
  for (auto& t : tensors_) {
    if (t.offset % alignment_ != 0) c.fail("tensor '" + t.name + "' offset is not aligned to " + std::to_string(alignment_));
    if (t.offset > size_ - data_start || t.nbytes > size_ - data_start - t.offset)
      c.fail("tensor '" + t.name + "' data (offset " + std::to_string(t.offset) + ", " + std::to_string(t.nbytes) +
             " bytes) extends past the end of the file");
    t.data = base_ + data_start + t.offset;
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

namespace {
template <typename F>
auto with_key(const GgufFile& f, const std::string& key, F fn) {
  const GgufValue* v = f.find(key);
  if (!v) throw Error(f.path() + ": missing metadata key '" + key + "'");
  try {
    return fn(*v);
  } catch (const Error& e) {
    throw Error(f.path() + ": metadata key '" + key + "': " + e.what());
  }
}
}  // namespace

std::string GgufFile::get_string(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_string(); });
}
int64_t GgufFile::get_int(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) {
    if (!v.is_integer()) throw Error("expected an integer");
    return v.as_int();
  });
}
double GgufFile::get_float(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_float(); });
}
std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) {
    std::vector<std::string> out;
    for (auto& it : v.as_array().items) out.push_back(it.as_string());
    return out;
  });
}
std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) {
    std::vector<double> out;
    for (auto& it : v.as_array().items) out.push_back(it.as_float());
    return out;
  });
}
std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) {
    std::vector<int64_t> out;
    for (auto& it : v.as_array().items) out.push_back(it.as_int());
    return out;
  });
}
std::string GgufFile::get_string(const std::string& key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}
int64_t GgufFile::get_int(const std::string& key, int64_t def) const { return has(key) ? get_int(key) : def; }
double GgufFile::get_float(const std::string& key, double def) const { return has(key) ? get_float(key) : def; }
bool GgufFile::get_bool(const std::string& key, bool def) const {
  return has(key) ? with_key(*this, key, [](const GgufValue& v) { return v.as_bool(); }) : def;
}

const GgufTensor* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::tensor(const std::string& name) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) throw Error(path_ + ": missing tensor '" + name + "'");
  return *t;
}

}  // namespace nagare
