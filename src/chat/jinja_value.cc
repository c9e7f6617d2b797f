// Value construction and Python-compatible formatting; see jinja_value.h.
#include "chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "chat/jinja_unicode.h"

namespace nagare::jinja {

const Value* DictObj::find(const Value& key) const {
  for (const auto& kv : items)
    if (equals(kv.first, key)) return &kv.second;
  return nullptr;
}

const Value* DictObj::find(const std::string& key) const {
  for (const auto& kv : items)
    if (kv.first.is_string() && kv.first.str() == key) return &kv.second;
  return nullptr;
}

void DictObj::set(const Value& key, Value value) {
  for (auto& kv : items) {
    if (equals(kv.first, key)) {
      kv.second = std::move(value);
      return;
    }
  }
  items.emplace_back(key, std::move(value));
}

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.str_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::unsafe_undefined(std::string hint) {
  Value v = undefined(std::move(hint));
  v.unsafe_ = true;
  return v;
}

Value Value::none() {
  Value v;
  v.type_ = Type::None;
  return v;
}

Value::Value(std::string s) : type_(Type::String), str_(std::make_shared<const std::string>(std::move(s))) {}

Value Value::list(ValueList items, bool is_tuple) {
  Value v;
  v.type_ = Type::List;
  auto obj = std::make_shared<ListObj>();
  obj->items = std::move(items);
  obj->is_tuple = is_tuple;
  v.obj_ = std::move(obj);
  return v;
}

Value Value::lazy(ValueList items, ListObj::Lazy kind, const char* type_name) {
  Value v = list(std::move(items));
  auto* obj = static_cast<ListObj*>(v.obj_.get());
  obj->lazy = kind;
  obj->lazy_type = type_name;
  return v;
}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.markup_ = true;
  return v;
}

Value Value::dict(std::shared_ptr<DictObj> d) {
  Value v;
  v.type_ = Type::Dict;
  v.obj_ = std::move(d);
  return v;
}

Value Value::dict() { return dict(std::make_shared<DictObj>()); }

Value Value::func(std::string name, std::function<Value(Interp&, CallArgs&)> fn) {
  Value v;
  v.type_ = Type::Func;
  auto obj = std::make_shared<FuncObj>();
  obj->name = std::move(name);
  obj->fn = std::move(fn);
  v.obj_ = std::move(obj);
  return v;
}

Value Value::loop(std::shared_ptr<LoopObj> l) {
  Value v;
  v.type_ = Type::Loop;
  v.obj_ = std::move(l);
  return v;
}

double Value::as_double() const {
  switch (type_) {
    case Type::Bool: return num_.b ? 1.0 : 0.0;
    case Type::Int: return static_cast<double>(num_.i);
    case Type::Float: return num_.f;
    default: return 0.0;
  }
}

const std::string& Value::undefined_hint() const {
  static const std::string kEmpty = "value is undefined";
  return str_ ? *str_ : kEmpty;
}

bool Value::truthy() const {
  switch (type_) {
    case Type::Undefined:
    case Type::None: return false;
    case Type::Bool: return num_.b;
    case Type::Int: return num_.i != 0;
    case Type::Float: return num_.f != 0.0;
    case Type::String: return !str_->empty();
    case Type::List: return list_obj().lazy == ListObj::Lazy::Iterator || !items().empty();
    case Type::Dict: return dict_obj().is_namespace || !dict_obj().items.empty();
    case Type::Func:
    case Type::Loop: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (type_) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return "str";
    case Type::List:
      if (list_obj().lazy != ListObj::Lazy::No) return list_obj().lazy_type;
      return list_obj().is_tuple ? "tuple" : "list";
    case Type::Dict: return dict_obj().is_namespace ? "Namespace" : "dict";
    case Type::Func: return "function";
    case Type::Loop: return "LoopContext";
  }
  return "object";
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then laid out as Python's repr does: positional notation when
  // the decimal exponent is in [-4, 16), scientific otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t epos = sci.find('e');
  const int exp10 = std::stoi(sci.substr(epos + 1));
  std::string digits = sci.substr(0, epos);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int decpt = exp10 + 1;  // position of the decimal point relative to the digits
  const int nd = static_cast<int>(digits.size());
  std::string out = sign;
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (nd > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += eb;
  } else if (decpt <= 0) {
    out += "0." + std::string(-decpt, '0') + digits;
  } else if (decpt >= nd) {
    out += digits + std::string(decpt - nd, '0') + ".0";
  } else {
    out += digits.substr(0, decpt) + "." + digits.substr(decpt);
  }
  return out;
}

namespace {

void append_string_repr(std::string& out, const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  out += quote;
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = utf8::decode(s, i);
    if (c == static_cast<uint32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!utf8::is_printable(c)) {
      char b[16];
      if (c < 0x100) std::snprintf(b, sizeof(b), "\\x%02x", c);
      else if (c < 0x10000) std::snprintf(b, sizeof(b), "\\u%04x", c);
      else std::snprintf(b, sizeof(b), "\\U%08x", c);
      out += b;
    } else {
      utf8::encode(c, out);
    }
  }
  out += quote;
}

void append_repr(std::string& out, const Value& v);

void append_container(std::string& out, const Value& v) {
  if (v.is_list() && v.list_obj().lazy == ListObj::Lazy::Iterator) {
    out += std::string("<") + v.list_obj().lazy_type + " object>";
    return;
  }
  if (v.is_list() && v.list_obj().lazy == ListObj::Lazy::View) {
    out += std::string(v.list_obj().lazy_type) + "(";
    append_container(out, Value::list(v.items()));
    out += ")";
    return;
  }
  if (v.is_list()) {
    const bool tuple = v.list_obj().is_tuple;
    out += tuple ? '(' : '[';
    bool first = true;
    for (const Value& x : v.items()) {
      if (!first) out += ", ";
      first = false;
      append_repr(out, x);
    }
    if (tuple && v.items().size() == 1) out += ',';
    out += tuple ? ')' : ']';
    return;
  }
  const DictObj& d = v.dict_obj();
  if (d.is_namespace) out += "<Namespace ";
  out += '{';
  bool first = true;
  for (const auto& kv : d.items) {
    if (!first) out += ", ";
    first = false;
    append_repr(out, kv.first);
    out += ": ";
    append_repr(out, kv.second);
  }
  out += '}';
  if (d.is_namespace) out += '>';
}

void append_repr(std::string& out, const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: out += "Undefined"; break;
    case Value::Type::String:
      if (v.is_markup()) out += "Markup(";
      append_string_repr(out, v.str());
      if (v.is_markup()) out += ')';
      break;
    default: append_str(out, v); break;
  }
}

}  // namespace

void append_str(std::string& out, const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: break;
    case Value::Type::None: out += "None"; break;
    case Value::Type::Bool: out += v.as_bool() ? "True" : "False"; break;
    case Value::Type::Int: out += std::to_string(v.as_int()); break;
    case Value::Type::Float: out += float_repr(v.as_double()); break;
    case Value::Type::String: out += v.str(); break;
    case Value::Type::List:
    case Value::Type::Dict: append_container(out, v); break;
    case Value::Type::Func: out += "<function " + v.func_obj().name + ">"; break;
    case Value::Type::Loop: out += "<LoopContext>"; break;
  }
}

std::string to_str(const Value& v) {
  if (v.is_string()) return v.str();
  std::string out;
  append_str(out, v);
  return out;
}

std::string to_repr(const Value& v) {
  std::string out;
  append_repr(out, v);
  return out;
}

namespace {

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    const auto c = static_cast<unsigned char>(ch);
    if (ensure_ascii && c >= 0x7F) {
      uint32_t cp = c;
      if (c >= 0x80) {
        size_t j = i;
        cp = utf8::decode(s, j);
        i = j - 1;
      }
      char b[16];
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        std::snprintf(b, sizeof(b), "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        std::snprintf(b, sizeof(b), "\\u%04x", cp);
      }
      out += b;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\u%04x", c);
          out += b;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  return float_repr(d);
}

std::string json_key(const Value& k) {
  switch (k.type()) {
    case Value::Type::String: return k.str();
    case Value::Type::Int: return std::to_string(k.as_int());
    case Value::Type::Float: return json_float(k.as_double());
    case Value::Type::Bool: return k.as_bool() ? "true" : "false";
    case Value::Type::None: return "null";
    default:
      throw std::runtime_error("keys must be str, int, float, bool or None, not " + k.type_name());
  }
}

struct JsonWriter {
  const JsonFormat& fmt;
  std::string unit;  // one level of indentation
  bool indented;
  std::string item_sep;
  std::string& out;
  int depth = 0;

  void newline(int level) {
    out += '\n';
    for (int i = 0; i < level; ++i) out += unit;
  }

  void write(const Value& v) {
    if (++depth > 512) throw NestingLimitError("value nested too deeply for tojson");
    switch (v.type()) {
      case Value::Type::None: out += "null"; break;
      case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; break;
      case Value::Type::Int: out += std::to_string(v.as_int()); break;
      case Value::Type::Float: out += json_float(v.as_double()); break;
      case Value::Type::String: json_string(out, v.str(), fmt.ensure_ascii); break;
      case Value::Type::List: {
        if (v.is_lazy())
          throw std::runtime_error("Object of type " + v.type_name() + " is not JSON serializable");
        const ValueList& items = v.items();
        if (items.empty()) {
          out += "[]";
          break;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (indented) newline(depth);
          write(items[i]);
        }
        if (indented) newline(depth - 1);
        out += ']';
        break;
      }
      case Value::Type::Dict: {
        const DictObj& d = v.dict_obj();
        if (d.is_namespace) throw std::runtime_error("Object of type Namespace is not JSON serializable");
        if (d.items.empty()) {
          out += "{}";
          break;
        }
        std::vector<std::pair<std::string, const Value*>> entries;
        entries.reserve(d.items.size());
        for (const auto& kv : d.items) entries.emplace_back(json_key(kv.first), &kv.second);
        if (fmt.sort_keys)
          std::stable_sort(entries.begin(), entries.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_sep;
          if (indented) newline(depth);
          json_string(out, entries[i].first, fmt.ensure_ascii);
          out += fmt.key_sep;
          write(*entries[i].second);
        }
        if (indented) newline(depth - 1);
        out += '}';
        break;
      }
      default:
        throw std::runtime_error("Object of type " + v.type_name() + " is not JSON serializable");
    }
    --depth;
  }
};

}  // namespace

std::string to_json(const Value& v, const JsonFormat& fmt) {
  std::string out;
  const bool indented = fmt.indent >= 0 || !fmt.indent_str.empty();
  std::string unit = !fmt.indent_str.empty() ? fmt.indent_str : std::string(std::max(fmt.indent, 0), ' ');
  std::string item_sep = fmt.separators_given ? fmt.item_sep : (indented ? "," : ", ");
  JsonWriter w{fmt, unit, indented, item_sep, out};
  w.write(v);
  return out;
}

bool equals(const Value& a, const Value& b) {
  using T = Value::Type;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::Undefined:
    case T::None: return true;
    case T::String: return a.str_ptr() == b.str_ptr() || a.str() == b.str();
    case T::List: {
      if (a.is_lazy() || b.is_lazy()) return &a.list_obj() == &b.list_obj();
      if (a.list_obj().is_tuple != b.list_obj().is_tuple) return false;
      const ValueList &x = a.items(), &y = b.items();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!equals(x[i], y[i])) return false;
      return true;
    }
    case T::Dict: {
      const DictObj &x = a.dict_obj(), &y = b.dict_obj();
      if (x.is_namespace || y.is_namespace) return &x == &y;
      if (x.items.size() != y.items.size()) return false;
      for (const auto& kv : x.items) {
        const Value* other = y.find(kv.first);
        if (!other || !equals(kv.second, *other)) return false;
      }
      return true;
    }
    case T::Func: return &a.func_obj() == &b.func_obj();
    case T::Loop: return a.loop_ptr() == b.loop_ptr();
    default: return false;
  }
}

bool less_than(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.str() < b.str();
  if (a.is_list() && b.is_list() && !a.is_lazy() && !b.is_lazy() &&
      a.list_obj().is_tuple == b.list_obj().is_tuple) {
    const ValueList &x = a.items(), &y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  throw std::runtime_error("'<' not supported between instances of '" + a.type_name() + "' and '" +
                           b.type_name() + "'");
}

}  // namespace nagare::jinja
