// GGUF parsing. Every read goes through Cursor, which checks bounds against the mapped size, and
// every count is checked against the bytes left before anything is allocated for it.
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
constexpr uint64_t kMaxArrayItems = uint64_t(1) << 24;
// All metadata arrays together (largest real vocabularies: ~262k tokens, ~1M merges).
constexpr uint64_t kMaxTotalArrayItems = uint64_t(1) << 24;
constexpr uint64_t kMaxTensors = uint64_t(1) << 20;
constexpr uint64_t kMaxKeys = uint64_t(1) << 20;
constexpr uint64_t kMaxTensorElements = uint64_t(1) << 42;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr int kMaxNesting = 8;
// Smallest possible encodings, used to reject counts that cannot fit in the bytes left.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // empty key, type, one-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim, type, offset

uint64_t min_encoded_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::STRING: return 8;  // length only
    case GgufValueType::ARRAY: return 12;  // element type and length
    default: return 8;
  }
}

class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, const std::string& path)
      : base_(base), size_(size), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream s;
    s << path_ << ": invalid GGUF file: " << what << " (at byte " << pos_ << " of " << size_ << ")";
    throw Error(s.str());
  }
  // For problems found after the index is read, where the read position means nothing.
  [[noreturn]] void fail_data(const std::string& what) const {
    throw Error(path_ + ": invalid GGUF file: " + what + " (the file has " + std::to_string(size_) + " bytes)");
  }
  size_t left() const { return size_ - pos_; }
  void need(uint64_t n, const char* what) const {
    if (n > left()) fail(std::string("truncated while reading ") + what);
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
    if (n > kMaxStringBytes) fail(std::string("length ") + std::to_string(n) + " of " + what + " is too large");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }

  uint64_t array_items_left = kMaxTotalArrayItems;

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

GgufValue read_value(Cursor& c, GgufValueType type, int depth);

GgufArray read_array(Cursor& c, int depth) {
  if (depth > kMaxNesting) c.fail("arrays nested too deeply");
  uint32_t et = c.read<uint32_t>("array element type");
  if (et > uint32_t(GgufValueType::FLOAT64)) c.fail("unknown array element type " + std::to_string(et));
  GgufArray a{GgufValueType(et)};
  uint64_t n = c.read<uint64_t>("array length");
  if (n > kMaxArrayItems) c.fail("array length " + std::to_string(n) + " is too large");
  if (n > c.left() / min_encoded_size(a.elem_type()))
    c.fail("truncated: array of " + std::to_string(n) + " " + std::string(gguf_value_type_name(a.elem_type())) +
           " items does not fit in the bytes left");
  if (n > c.array_items_left) c.fail("metadata arrays hold too many items in total");
  c.array_items_left -= n;
  a.reserve(n);
  for (uint64_t i = 0; i < n; ++i) a.push_back(read_value(c, a.elem_type(), depth + 1));
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
      if (b > 1) c.fail("bool value is " + std::to_string(b) + ", not 0 or 1");
      v.v = b != 0;
      break;
    }
    case GgufValueType::STRING: v.v = c.read_string("string value"); break;
    case GgufValueType::ARRAY: v.v = std::make_shared<GgufArray>(read_array(c, depth)); break;
    default: c.fail("unknown value type " + std::to_string(uint32_t(type)));
  }
  return v;
}

uint32_t byte_swap(uint32_t x) {
  return (x >> 24) | ((x >> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24);
}

}  // namespace

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
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, not a GGUF file");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  f->size_ = size_t(st.st_size);
  if (f->size_ > 0) {  // mmap of length 0 fails; parse() reports the empty file
    void* m = mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, f->fd_, 0);
    if (m == MAP_FAILED) throw Error(path + ": cannot mmap: " + std::strerror(errno));
    f->base_ = static_cast<const uint8_t*>(m);
    f->mapped_ = true;
  }
  f->parse();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::from_bytes(const std::string& name, std::vector<uint8_t> bytes) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = name;
  f->owned_ = std::move(bytes);
  f->base_ = f->owned_.data();
  f->size_ = f->owned_.size();
  f->parse();
  return f;
}

GgufFile::~GgufFile() {
  if (mapped_) munmap(const_cast<uint8_t*>(base_), size_);
  if (fd_ >= 0) ::close(fd_);
}

void GgufFile::release_pages() const {
  // MADV_DONTNEED on a read-only shared file mapping only unmaps: the contents cannot change.
  if (mapped_) madvise(const_cast<uint8_t*>(base_), size_, MADV_DONTNEED);  // advisory
}

void GgufFile::parse() {
  if (size_ < 24)
    throw Error(path_ + ": invalid GGUF file: too small (" + std::to_string(size_) + " bytes; the header alone is 24)");
  Cursor c(base_, size_, path_);
  if (c.read<uint32_t>("magic") != kMagic) c.fail("bad magic (not a GGUF file)");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    uint32_t swapped = byte_swap(version_);
    if (swapped >= 1 && swapped <= 3) c.fail("big-endian GGUF files are not supported");
    c.fail("unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  }
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  if (n_tensors > kMaxTensors) c.fail("tensor count " + std::to_string(n_tensors) + " is too large");
  if (n_kv > kMaxKeys) c.fail("metadata count " + std::to_string(n_kv) + " is too large");
  if (n_tensors > c.left() / kMinTensorInfoBytes)
    c.fail("truncated: tensor count " + std::to_string(n_tensors) + " does not fit in the file");
  if (n_kv > c.left() / kMinKvBytes)
    c.fail("truncated: metadata count " + std::to_string(n_kv) + " does not fit in the file");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key");
    uint32_t t = c.read<uint32_t>("metadata value type");
    if (t > uint32_t(GgufValueType::FLOAT64))
      c.fail("unknown metadata value type " + std::to_string(t) + " for key '" + key + "'");
    GgufValue v = read_value(c, GgufValueType(t), 0);
    if (metadata_.count(key)) c.fail("duplicate metadata key '" + key + "'");
    metadata_order_.push_back(key);
    metadata_.emplace(std::move(key), std::move(v));
  }

  if (auto* a = find("general.alignment")) {
    if (!a->is_integer()) c.fail("general.alignment is not an integer");
    int64_t al = a->as_int();
    if (al <= 0 || al > 65536 || (al & (al - 1)) != 0)
      c.fail("general.alignment must be a power of two up to 65536, got " + std::to_string(al));
    alignment_ = uint64_t(al);
  }

  tensors_.reserve(n_tensors);  // bounded by the bytes left (checked above)
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = c.read_string("tensor name");
    uint32_t nd = c.read<uint32_t>("tensor dimension count");
    if (nd == 0 || nd > kMaxDims)
      c.fail("tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions (supported: 1 to 4)");
    uint64_t n = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t dim = c.read<uint64_t>("tensor dimension");
      if (dim == 0) c.fail("tensor '" + t.name + "' has a zero dimension");
      if (dim > kMaxTensorElements / n)  // overflow-safe: n * dim <= kMaxTensorElements
        c.fail("tensor '" + t.name + "' is too large (dimension " + std::to_string(dim) + ")");
      n *= dim;
      t.dims.push_back(int64_t(dim));
    }
    uint32_t type = c.read<uint32_t>("tensor type");
    auto info = ggml_type_info(type);
    if (!info) c.fail("tensor '" + t.name + "' has unknown type id " + std::to_string(type));
    t.type = GgmlType(type);
    t.offset = c.read<uint64_t>("tensor offset");
    if (t.dims[0] % info->block_elements != 0)
      c.fail("tensor '" + t.name + "' row length " + std::to_string(t.dims[0]) + " is not a multiple of the " +
             std::string(info->name) + " block size " + std::to_string(info->block_elements));
    t.nbytes = size_t(n / info->block_elements * info->block_bytes);
    if (tensor_index_.count(t.name)) c.fail("duplicate tensor name '" + t.name + "'");
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment. A file without tensors may
  // end before that padding (llama.cpp accepts such files too).
  uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_start > size_) {
    if (!tensors_.empty()) c.fail_data("data section starts past the end of the file");
    data_start = size_;
  }
  data_offset_ = data_start;
  for (auto& t : tensors_) {
    if (t.offset % alignment_ != 0)
      c.fail_data("tensor '" + t.name + "' offset " + std::to_string(t.offset) + " is not aligned to " +
             std::to_string(alignment_));
    if (t.offset > size_ - data_start || t.nbytes > size_ - data_start - t.offset)
      c.fail_data("tensor '" + t.name + "' data (offset " + std::to_string(t.offset) + ", " + std::to_string(t.nbytes) +
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
    if (!v.is_integer()) throw Error("expected an integer, found " + std::string(gguf_value_type_name(v.type)));
    return v.as_int();
  });
}
double GgufFile::get_float(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) { return v.as_float(); });
}
std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) {
    std::vector<std::string> out;
    const GgufArray& a = v.as_array();
    for (size_t i = 0; i < a.size(); ++i) out.emplace_back(a.string_at(i));
    return out;
  });
}
std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) {
    std::vector<double> out;
    const GgufArray& a = v.as_array();
    for (size_t i = 0; i < a.size(); ++i) out.push_back(a.float_at(i));
    return out;
  });
}
std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  return with_key(*this, key, [](const GgufValue& v) {
    std::vector<int64_t> out;
    const GgufArray& a = v.as_array();
    for (size_t i = 0; i < a.size(); ++i) out.push_back(a.int_at(i));
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
