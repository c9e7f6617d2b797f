// GgufValue: typed accessors, constructors, equality and display of one metadata value.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>

#include "gguf/gguf_file.h"
#include "util/error.h"

namespace nagare {

std::string_view gguf_value_type_name(GgufValueType t) {
  static constexpr std::string_view kNames[] = {"u8",     "i8",    "u16", "i16", "u32", "i32", "f32",
                                                "bool",   "string", "array", "u64", "i64", "f64"};
  uint32_t i = uint32_t(t);
  return i < std::size(kNames) ? kNames[i] : std::string_view("unknown");
}

namespace {
std::string type_str(GgufValueType t) { return std::string(gguf_value_type_name(t)); }

// Quotes a string for one-line display: control characters and quotes escaped, cut at `max`
// bytes without splitting a UTF-8 sequence.
std::string quote(const std::string& s, size_t max) {
  size_t n = s.size();
  bool cut = n > max;
  if (cut) {
    n = max;
    while (n > 0 && (uint8_t(s[n]) & 0xC0) == 0x80) --n;  // back up to a character start
  }
  std::string out = "\"";
  for (size_t i = 0; i < n; ++i) {
    unsigned char ch = uint8_t(s[i]);
    switch (ch) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (ch < 0x20 || ch == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", ch);
          out += buf;
        } else {
          out += char(ch);
        }
    }
  }
  out += cut ? "\"..." : "\"";
  return out;
}
// The shortest %g form (at least 6 digits) that reads back as the same value: 0.1f -> "0.1",
// not "0.100000001".
std::string shortest_float(double x, bool is_f32) {
  char buf[40];
  for (int p = 6; p <= (is_f32 ? 9 : 17); ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, x);
    if (is_f32 ? std::strtof(buf, nullptr) == float(x) : std::strtod(buf, nullptr) == x) break;
  }
  return buf;
}
}  // namespace

bool GgufValue::is_integer() const {
  return std::holds_alternative<uint64_t>(v) || std::holds_alternative<int64_t>(v);
}

int64_t GgufValue::as_int() const {
  if (auto* u = std::get_if<uint64_t>(&v)) return int64_t(*u);
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* b = std::get_if<bool>(&v)) return *b;
  throw Error("expected an integer, found " + type_str(type));
}

double GgufValue::as_float() const {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* u = std::get_if<uint64_t>(&v)) return double(*u);
  if (auto* i = std::get_if<int64_t>(&v)) return double(*i);
  throw Error("expected a number, found " + type_str(type));
}

bool GgufValue::as_bool() const {
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (is_integer()) return as_int() != 0;
  throw Error("expected a bool, found " + type_str(type));
}

const std::string& GgufValue::as_string() const {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  throw Error("expected a string, found " + type_str(type));
}

const GgufArray& GgufValue::as_array() const {
  if (auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v); a && *a) return **a;
  throw Error("expected an array, found " + type_str(type));
}

std::string GgufValue::to_display(size_t max_items) const {
  std::ostringstream s;
  if (auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v)) {
    if (!*a) return "[null array]";
    const GgufArray& items = **a;
    s << "[" << gguf_value_type_name(items.elem_type()) << " x " << items.size() << "]";
    if (max_items > 0 && !items.empty()) {
      s << " ";
      for (size_t i = 0; i < items.size() && i < max_items; ++i) s << (i ? ", " : "") << items[i].to_display(0);
      if (items.size() > max_items) s << ", ...";
    }
  } else if (auto* str = std::get_if<std::string>(&v)) {
    s << quote(*str, 80);
  } else if (auto* b = std::get_if<bool>(&v)) {
    s << (*b ? "true" : "false");
  } else if (auto* d = std::get_if<double>(&v)) {
    s << shortest_float(*d, type == GgufValueType::FLOAT32);
  } else if (auto* u = std::get_if<uint64_t>(&v)) {
    s << *u;
  } else {
    s << as_int();
  }
  return s.str();
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type != o.type || v.index() != o.v.index()) return false;
  if (auto* d = std::get_if<double>(&v)) {
    double e = std::get<double>(o.v);
    return std::memcmp(d, &e, sizeof e) == 0;
  }
  if (auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v)) {
    auto& b = std::get<std::shared_ptr<GgufArray>>(o.v);
    if (!*a || !b) return !*a && !b;
    return **a == *b;
  }
  return v == o.v;
}

GgufValue GgufValue::make_uint(GgufValueType t, uint64_t x) {
  uint64_t max;
  switch (t) {
    case GgufValueType::UINT8: max = 0xff; break;
    case GgufValueType::UINT16: max = 0xffff; break;
    case GgufValueType::UINT32: max = 0xffffffffu; break;
    case GgufValueType::UINT64: max = ~uint64_t(0); break;
    default: throw Error("make_uint: " + type_str(t) + " is not an unsigned integer type");
  }
  if (x > max) throw Error("value " + std::to_string(x) + " does not fit in " + type_str(t));
  GgufValue r;
  r.type = t;
  r.v = x;
  return r;
}

GgufValue GgufValue::make_int(GgufValueType t, int64_t x) {
  int64_t lo, hi;
  switch (t) {
    case GgufValueType::INT8: lo = INT8_MIN, hi = INT8_MAX; break;
    case GgufValueType::INT16: lo = INT16_MIN, hi = INT16_MAX; break;
    case GgufValueType::INT32: lo = INT32_MIN, hi = INT32_MAX; break;
    case GgufValueType::INT64: lo = INT64_MIN, hi = INT64_MAX; break;
    default: throw Error("make_int: " + type_str(t) + " is not a signed integer type");
  }
  if (x < lo || x > hi) throw Error("value " + std::to_string(x) + " does not fit in " + type_str(t));
  GgufValue r;
  r.type = t;
  r.v = x;
  return r;
}

GgufValue GgufValue::make_float(GgufValueType t, double x) {
  if (t != GgufValueType::FLOAT32 && t != GgufValueType::FLOAT64)
    throw Error("make_float: " + type_str(t) + " is not a float type");
  GgufValue r;
  r.type = t;
  // Stored as read back from a file would be: an f32 widened from float.
  r.v = t == GgufValueType::FLOAT32 ? double(float(x)) : x;
  return r;
}

GgufValue GgufValue::make_bool(bool b) {
  GgufValue r;
  r.type = GgufValueType::BOOL;
  r.v = b;
  return r;
}

GgufValue GgufValue::make_string(std::string s) {
  GgufValue r;
  r.type = GgufValueType::STRING;
  r.v = std::move(s);
  return r;
}

GgufValue GgufValue::make_array(GgufValueType elem_type, std::vector<GgufValue> items) {
  if (uint32_t(elem_type) > uint32_t(GgufValueType::FLOAT64))
    throw Error("make_array: unknown element type " + std::to_string(uint32_t(elem_type)));
  auto a = std::make_shared<GgufArray>(elem_type);
  a->reserve(items.size());
  for (const GgufValue& item : items) a->push_back(item);
  GgufValue r;
  r.type = GgufValueType::ARRAY;
  r.v = std::move(a);
  return r;
}

// ---- GgufArray ----

namespace {

bool is_number_type(GgufValueType t) {
  return t != GgufValueType::STRING && t != GgufValueType::ARRAY;
}
bool is_signed_type(GgufValueType t) {
  return t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 || t == GgufValueType::INT64;
}
bool is_float_type(GgufValueType t) { return t == GgufValueType::FLOAT32 || t == GgufValueType::FLOAT64; }

double word_to_double(uint64_t w) {
  double d;
  std::memcpy(&d, &w, sizeof d);
  return d;
}

}  // namespace

GgufArray::GgufArray(GgufValueType elem_type) : elem_type_(elem_type) {}
GgufArray::GgufArray(const GgufArray&) = default;
GgufArray::GgufArray(GgufArray&&) noexcept = default;
GgufArray& GgufArray::operator=(const GgufArray&) = default;
GgufArray& GgufArray::operator=(GgufArray&&) noexcept = default;
GgufArray::~GgufArray() = default;

size_t GgufArray::size() const {
  if (elem_type_ == GgufValueType::STRING) return ends_.size();
  if (elem_type_ == GgufValueType::ARRAY) return nested_.size();
  return words_.size();
}

void GgufArray::reserve(size_t n) {
  if (elem_type_ == GgufValueType::STRING) ends_.reserve(n);
  else if (elem_type_ == GgufValueType::ARRAY) nested_.reserve(n);
  else words_.reserve(n);
}

void GgufArray::push_back(const GgufValue& item) {
  if (item.type != elem_type_)
    throw Error("make_array: item " + std::to_string(size()) + " is " + type_str(item.type) + ", expected " +
                type_str(elem_type_));
  if (elem_type_ == GgufValueType::STRING) {
    chars_ += item.as_string();
    ends_.push_back(chars_.size());
  } else if (elem_type_ == GgufValueType::ARRAY) {
    nested_.push_back(item);
  } else if (auto* d = std::get_if<double>(&item.v)) {
    uint64_t w;
    std::memcpy(&w, d, sizeof w);
    words_.push_back(w);
  } else if (auto* b = std::get_if<bool>(&item.v)) {
    words_.push_back(*b ? 1 : 0);
  } else if (auto* u = std::get_if<uint64_t>(&item.v)) {
    words_.push_back(*u);
  } else {
    words_.push_back(uint64_t(std::get<int64_t>(item.v)));
  }
}

GgufValue GgufArray::operator[](size_t i) const {
  if (i >= size()) throw Error("array index " + std::to_string(i) + " out of range");
  GgufValue r;
  r.type = elem_type_;
  if (elem_type_ == GgufValueType::STRING) r.v = std::string(string_at(i));
  else if (elem_type_ == GgufValueType::ARRAY) return nested_[i];
  else if (is_float_type(elem_type_)) r.v = word_to_double(words_[i]);
  else if (elem_type_ == GgufValueType::BOOL) r.v = words_[i] != 0;
  else if (is_signed_type(elem_type_)) r.v = int64_t(words_[i]);
  else r.v = words_[i];
  return r;
}

std::string_view GgufArray::string_at(size_t i) const {
  if (elem_type_ != GgufValueType::STRING) throw Error("expected a string, found " + type_str(elem_type_));
  if (i >= ends_.size()) throw Error("array index " + std::to_string(i) + " out of range");
  const uint64_t begin = i == 0 ? 0 : ends_[i - 1];
  return std::string_view(chars_).substr(begin, ends_[i] - begin);
}

int64_t GgufArray::int_at(size_t i) const {
  if (!is_number_type(elem_type_) || is_float_type(elem_type_))
    throw Error("expected an integer, found " + type_str(elem_type_));
  if (i >= words_.size()) throw Error("array index " + std::to_string(i) + " out of range");
  return int64_t(words_[i]);
}

double GgufArray::float_at(size_t i) const {
  if (!is_number_type(elem_type_) || elem_type_ == GgufValueType::BOOL)
    throw Error("expected a number, found " + type_str(elem_type_));
  if (i >= words_.size()) throw Error("array index " + std::to_string(i) + " out of range");
  if (is_float_type(elem_type_)) return word_to_double(words_[i]);
  if (!is_signed_type(elem_type_)) return double(words_[i]);
  return double(int64_t(words_[i]));
}

bool GgufArray::operator==(const GgufArray& o) const {
  return elem_type_ == o.elem_type_ && words_ == o.words_ && chars_ == o.chars_ && ends_ == o.ends_ &&
         nested_ == o.nested_;
}

}  // namespace nagare
