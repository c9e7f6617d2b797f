#include "api/json_fields.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "api/api_error.h"

namespace nagare {
namespace {

const Json* field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

[[noreturn]] void wrong_type(const char* key, const char* expected, const Json& v) {
  throw ApiError::invalid(std::string("'") + key + "' must be " + expected + ", got " +
                              json_type_name(v),
                          key);
}

std::string show(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  // Shortest form that reads back the same, so 0.1 shows as 0.1.
  for (int prec = 1; prec <= 17; ++prec) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*g", prec, x);
    if (std::strtod(b, nullptr) == x) return b;
  }
  return buf;
}

}  // namespace

std::string json_type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    default: break;
  }
  return "an unsupported value";
}

std::optional<double> get_number(const Json& obj, const char* key, double lo, double hi) {
  const Json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(key, "a number", *v);
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi))
    throw ApiError::invalid(std::string("'") + key + "' must be between " + show(lo) + " and " +
                                show(hi) + ", got " + show(x),
                            key);
  return x;
}

std::optional<int64_t> get_integer(const Json& obj, const char* key, int64_t lo, int64_t hi) {
  const Json* v = field(obj, key);
  if (!v) return std::nullopt;
  double x;
  if (v->is_number_integer() || v->is_number_unsigned()) {
    x = v->get<double>();  // exact for the ranges used here (|x| < 2^53)
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) &&
             v->get<double>() == std::floor(v->get<double>())) {
    x = v->get<double>();
  } else {
    wrong_type(key, "an integer", *v);
  }
  if (!(x >= double(lo) && x <= double(hi))) {
    std::string range = hi == INT64_MAX ? ">= " + std::to_string(lo)
                                        : "between " + std::to_string(lo) + " and " + std::to_string(hi);
    throw ApiError::invalid(std::string("'") + key + "' must be " + range + ", got " + show(x), key);
  }
  if (v->is_number_unsigned()) return static_cast<int64_t>(v->get<uint64_t>());
  if (v->is_number_integer()) return v->get<int64_t>();
  return static_cast<int64_t>(x);
}

std::optional<bool> get_bool(const Json& obj, const char* key) {
  const Json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(key, "a boolean", *v);
  return v->get<bool>();
}

std::optional<std::string> get_string(const Json& obj, const char* key) {
  const Json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(key, "a string", *v);
  return v->get<std::string>();
}

const Json* get_object(const Json& obj, const char* key) {
  const Json* v = field(obj, key);
  if (v && !v->is_object()) wrong_type(key, "an object", *v);
  return v;
}

std::optional<std::vector<std::string>> get_string_or_list(const Json& obj, const char* key,
                                                           size_t max_items) {
  const Json* v = field(obj, key);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const Json& item : *v) {
      if (!item.is_string()) wrong_type(key, "a string or a list of strings", *v);
      out.push_back(item.get<std::string>());
    }
  } else {
    wrong_type(key, "a string or a list of strings", *v);
  }
  if (out.size() > max_items)
    throw ApiError::invalid(std::string("'") + key + "' may hold at most " +
                                std::to_string(max_items) + " items, got " +
                                std::to_string(out.size()),
                            key);
  return out;
}

}  // namespace nagare
