// Python methods on str / dict / list values that templates call (message.content.strip(), ...),
// the globals HF provides (raise_exception, strftime_now) plus jinja2's (namespace, range, dict),
// and Python's %-formatting.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>

#include "chat/jinja_interp.h"
#include "chat/jinja_unicode.h"

namespace nagare::jinja {
namespace {

const std::string& str_arg(Interp& in, const CallArgs& a, size_t i, const char* fn) {
  if (i >= a.pos.size() || !a.pos[i].is_string())
    in.fail(std::string(fn) + "() argument must be str");
  return a.pos[i].str();
}

int64_t int_arg(const CallArgs& a, size_t i, int64_t def) {
  return i < a.pos.size() && (a.pos[i].is_int() || a.pos[i].is_bool()) ? a.pos[i].as_int() : def;
}

ValueList to_values(std::vector<std::string> parts) {
  ValueList out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return out;
}

std::vector<std::string> split_sep(const std::string& s, const std::string& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  size_t start = 0;
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    const size_t at = s.find(sep, start);
    if (at == std::string::npos) break;
    out.push_back(s.substr(start, at - start));
    start = at + sep.size();
  }
  out.push_back(s.substr(start));
  return out;
}

std::vector<std::string> rsplit_sep(const std::string& s, const std::string& sep, int64_t maxsplit) {
  std::vector<std::string> out;  // last part first, reversed at the end
  size_t end = s.size();
  while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
    if (end < sep.size()) break;
    const size_t at = s.rfind(sep, end - sep.size());
    if (at == std::string::npos) break;
    out.push_back(s.substr(at + sep.size(), end - at - sep.size()));
    end = at;
  }
  out.push_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

// Splits are charged before their parts are built: one of a 64 MiB string into millions of
// parts would take gigabytes before make_list saw it. At most this many parts (whitespace and
// line breaks counted as ASCII ones, the others being rare).
void charge_parts(Interp& in, const std::string& s, const std::string* sep, int64_t maxsplit) {
  uint64_t n = 1;
  if (sep) {
    for (size_t at = s.find(*sep); at != std::string::npos; at = s.find(*sep, at + sep->size())) ++n;
  } else {
    for (unsigned char c : s) n += c <= ' ';
  }
  if (maxsplit >= 0) n = std::min<uint64_t>(n, static_cast<uint64_t>(maxsplit) + 1);
  in.charge(n * sizeof(std::string));
}

bool matches_affix(Interp& in, const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) in.fail(std::string(prefix ? "startswith" : "endswith") + " first arg must be str or a tuple of str");
    const std::string& x = a.str();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list() && affix.list_obj().is_tuple) {
    for (const Value& a : affix.items())
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

// Code point index of a byte offset, for find()/index() results.
int64_t cp_index(const std::string& s, size_t byte_pos) {
  return static_cast<int64_t>(utf8::length(std::string_view(s).substr(0, byte_pos)));
}

bool all_cps(const std::string& s, bool (*pred)(uint32_t)) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();)
    if (!pred(utf8::decode(s, i))) return false;
  return true;
}

bool is_digit_cp(uint32_t c) { return c >= '0' && c <= '9'; }
bool is_alpha_cp(uint32_t c) { return utf8::is_cased_letter(c) || (c >= 0x3040 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF); }
bool is_alnum_cp(uint32_t c) { return is_digit_cp(c) || is_alpha_cp(c); }

std::string pad(const std::string& s, int64_t width, const std::string& fill, int where) {
  const auto len = static_cast<int64_t>(utf8::length(s));
  if (width <= len) return s;
  width = std::min<int64_t>(width, 1 << 20);
  const int64_t marg = width - len;
  int64_t left = where < 0 ? 0 : where > 0 ? marg : marg / 2 + (marg & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < marg - left; ++i) out += fill;
  return out;
}

// str.format with {} / {0} / {name} fields and no format specs.
std::string str_format(Interp& in, const std::string& fmt, const CallArgs& a) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') ++i;
      else in.fail(ChatErrorKind::Value, "Single '}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string::npos) in.fail(ChatErrorKind::Value, "Single '{' encountered in format string");
    const std::string field = fmt.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos) in.fail(ChatErrorKind::Unsupported, "format specs are not supported in str.format");
    const Value* v = nullptr;
    if (field.empty()) v = a.get(auto_index++, nullptr);
    else if (field.size() <= 9 && field.find_first_not_of("0123456789") == std::string::npos) v = a.get(std::stoul(field), nullptr);
    else
      for (const auto& kv : a.kw)
        if (kv.first == field) v = &kv.second;
    if (!v) in.fail(ChatErrorKind::Index, "Replacement index " + field + " out of range for positional args tuple");
    append_str(out, *v);
    i = close;
  }
  return out;
}

Value bind(const Value& self, const char* name, Value (*fn)(Interp&, const Value&, CallArgs&)) {
  return Value::func(name, [self, fn](Interp& in, CallArgs& a) { return fn(in, self, a); });
}

Value string_method(Interp& in, const Value& self, const std::string& name, CallArgs& a);

// Markup's str methods return Markup, with string arguments escaped (markupsafe's wrappers).
Value markup_method(Interp& in, const Value& self, const std::string& name, CallArgs& a) {
  static const char* const kWrapped[] = {"capitalize", "title", "lower", "upper", "replace", "ljust", "rjust",
                                         "lstrip", "rstrip", "center", "strip", "swapcase", "zfill"};
  bool wrapped = false;
  for (const char* w : kWrapped) wrapped = wrapped || name == w;
  if (wrapped) {
    CallArgs escaped = a;
    for (Value& v : escaped.pos)
      if (v.is_string() && !v.is_markup()) v = Value(html_escape(v.str()));
    Value r = string_method(in, Value(self.str()), name, escaped);
    return r.is_string() ? Value::markup(r.str()) : r;
  }
  Value r = string_method(in, Value(self.str()), name, a);
  if (name == "split" || name == "rsplit" || name == "splitlines") {
    ValueList parts;
    for (const Value& p : r.items()) parts.push_back(Value::markup(p.str()));
    return in.make_list(std::move(parts));
  }
  return r;
}

Value string_method(Interp& in, const Value& self, const std::string& name, CallArgs& a) {
  if (self.is_markup()) return markup_method(in, self, name, a);
  const std::string& s = self.str();
  auto chars_arg = [&](size_t i) -> const std::string* {
    if (i < a.pos.size() && a.pos[i].is_string()) return &a.pos[i].str();
    if (i < a.pos.size() && !a.pos[i].is_none()) in.fail(name + " arg must be None or str");
    return nullptr;
  };
  if (name == "strip") return in.make_string(utf8::strip(s, chars_arg(0), true, true));
  if (name == "lstrip") return in.make_string(utf8::strip(s, chars_arg(0), true, false));
  if (name == "rstrip") return in.make_string(utf8::strip(s, chars_arg(0), false, true));
  if (name == "upper") return in.make_string(utf8::upper(s));
  if (name == "lower") return in.make_string(utf8::lower(s));
  if (name == "title") return in.make_string(utf8::title(s));
  if (name == "capitalize") return in.make_string(utf8::capitalize(s));
  if (name == "swapcase") return in.make_string(utf8::swapcase(s));
  if (name == "split" || name == "rsplit") {
    const Value* sep = a.get(0, "sep");
    const Value* maxv = a.get(1, "maxsplit");
    const int64_t maxsplit = maxv ? maxv->as_int() : -1;
    if (!sep || sep->is_none()) {
      charge_parts(in, s, nullptr, name == "rsplit" ? -1 : maxsplit);  // rsplit splits all first
      if (name == "rsplit" && maxsplit >= 0) {
        std::vector<std::string> parts = utf8::split_whitespace(s, -1);
        if (static_cast<int64_t>(parts.size()) > maxsplit + 1) {
          const size_t keep = parts.size() - static_cast<size_t>(maxsplit);
          // Rejoin the head as it appeared: everything up to the start of part `keep`.
          std::string head = utf8::strip(s, nullptr, true, true);
          size_t cut = head.size();
          for (size_t k = parts.size(); k-- > keep;) cut = head.rfind(parts[k], cut - 1);
          std::vector<std::string> out{utf8::strip(head.substr(0, cut), nullptr, false, true)};
          out.insert(out.end(), parts.begin() + static_cast<long>(keep), parts.end());
          return in.make_list(to_values(std::move(out)));
        }
        return in.make_list(to_values(std::move(parts)));
      }
      return in.make_list(to_values(utf8::split_whitespace(s, maxsplit)));
    }
    if (!sep->is_string()) in.fail("must be str or None, not " + sep->type_name());
    if (sep->str().empty()) in.fail(ChatErrorKind::Value, "empty separator");
    charge_parts(in, s, &sep->str(), maxsplit);
    return in.make_list(to_values(name == "split" ? split_sep(s, sep->str(), maxsplit) : rsplit_sep(s, sep->str(), maxsplit)));
  }
  if (name == "splitlines") {
    charge_parts(in, s, nullptr, -1);
    return in.make_list(to_values(utf8::splitlines(s, a.get(0, "keepends") && a.get(0, "keepends")->truthy())));
  }
  if (name == "startswith" || name == "endswith") {
    if (a.pos.empty()) in.fail(name + "() takes at least 1 argument (0 given)");
    return Value(matches_affix(in, s, a.pos[0], name == "startswith"));
  }
  if (name == "replace") {
    const std::string& old = str_arg(in, a, 0, "replace");
    const std::string& repl = str_arg(in, a, 1, "replace");
    CallArgs fa;
    fa.pos = {Value(old), Value(repl), Value(int_arg(a, 2, -1))};
    return apply_filter(in, "replace", self, fa);
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    const std::string& sub = str_arg(in, a, 0, name.c_str());
    const size_t at = name[0] == 'r' ? s.rfind(sub) : s.find(sub);
    if (at == std::string::npos) {
      if (name == "index" || name == "rindex") in.fail(ChatErrorKind::Value, "substring not found");
      return Value(int64_t{-1});
    }
    return Value(cp_index(s, at));
  }
  if (name == "count") {
    const std::string& sub = str_arg(in, a, 0, "count");
    if (sub.empty()) return Value(static_cast<int64_t>(utf8::length(s) + 1));
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    if (a.pos.empty()) in.fail("join() takes exactly one argument (0 given)");
    std::string out;
    bool first = true;
    for (const Value& item : in.iterate(a.pos[0])) {
      if (!item.is_string()) in.fail("sequence item: expected str instance, " + item.type_name() + " found");
      if (!first) out += s;
      first = false;
      out += item.str();
      if (out.size() > in.limits().max_string_bytes) in.fail(ChatErrorKind::Limit, "template built a string that is too large");
    }
    return in.make_string(std::move(out));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string& x = str_arg(in, a, 0, name.c_str());
    if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return in.make_string(s.substr(x.size()));
    if (name == "removesuffix" && !x.empty() && x.size() <= s.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
      return in.make_string(s.substr(0, s.size() - x.size()));
    return self;
  }
  if (name == "isdigit") return Value(all_cps(s, is_digit_cp));
  if (name == "isalpha") return Value(all_cps(s, is_alpha_cp));
  if (name == "isalnum") return Value(all_cps(s, is_alnum_cp));
  if (name == "isspace") return Value(all_cps(s, utf8::is_space));
  if (name == "islower" || name == "isupper") {
    CallArgs none;
    return Value(apply_test(in, name == "islower" ? "lower" : "upper", self, none));
  }
  if (name == "ljust" || name == "rjust" || name == "center") {
    const std::string fill = a.pos.size() > 1 && a.pos[1].is_string() ? a.pos[1].str() : " ";
    if (utf8::length(fill) != 1) in.fail("The fill character must be exactly one character long");
    return in.make_string(pad(s, int_arg(a, 0, 0), fill, name == "ljust" ? -1 : name == "rjust" ? 1 : 0));
  }
  if (name == "zfill") {
    const int64_t width = int_arg(a, 0, 0);
    const bool sign = !s.empty() && (s[0] == '-' || s[0] == '+');
    const std::string padded = pad(s.substr(sign ? 1 : 0), width - (sign ? 1 : 0), "0", 1);
    return in.make_string((sign ? s.substr(0, 1) : "") + padded);
  }
  if (name == "format") return in.make_string(str_format(in, s, a));
  in.fail(ChatErrorKind::Attribute, "'str' object has no attribute '" + name + "'");
}

const char* const kStringMethods[] = {
    "strip", "lstrip", "rstrip", "upper", "lower", "title", "capitalize", "swapcase", "split",
    "rsplit", "splitlines", "startswith", "endswith", "replace", "find", "rfind", "index", "rindex",
    "count", "join", "removeprefix", "removesuffix", "isdigit", "isalpha", "isalnum", "isspace",
    "islower", "isupper", "ljust", "rjust", "center", "zfill", "format"};
const char* const kUnsafeDict[] = {"pop", "popitem", "setdefault", "update", "clear"};
const char* const kUnsafeList[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};

template <size_t N>
bool in_list(const char* const (&names)[N], const std::string& name) {
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

Value unsafe(const std::string& name, const Value& obj) {
  return Value::unsafe_undefined("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe.");
}

}  // namespace

std::optional<Value> get_method(Interp& in, const Value& obj, const std::string& name) {
  (void)in;
  if (obj.is_string()) {
    if (!in_list(kStringMethods, name)) return std::nullopt;
    std::string n = name;
    return Value::func(name, [obj, n](Interp& i, CallArgs& a) { return string_method(i, obj, n, a); });
  }
  if (obj.is_dict() && !obj.dict_obj().is_namespace) {
    if (name == "get")
      return bind(obj, "get", [](Interp& i, const Value& self, CallArgs& a) -> Value {
        if (a.pos.empty()) i.fail("get expected at least 1 argument, got 0");
        if (const Value* v = self.dict_obj().find(a.pos[0])) return *v;
        return a.pos.size() > 1 ? a.pos[1] : Value::none();
      });
    if (name == "items" || name == "keys" || name == "values") {
      const int which = name == "items" ? 0 : name == "keys" ? 1 : 2;
      return Value::func(name, [obj, which](Interp& i, CallArgs&) -> Value {
        ValueList out;
        for (const auto& kv : obj.dict_obj().items)
          out.push_back(which == 0 ? Value::list({kv.first, kv.second}, true) : which == 1 ? kv.first : kv.second);
        i.charge(out.size() * sizeof(Value));
        return Value::lazy(std::move(out), ListObj::Lazy::View,
                           which == 0 ? "dict_items" : which == 1 ? "dict_keys" : "dict_values");
      });
    }
    if (in_list(kUnsafeDict, name)) return unsafe(name, obj);
    return std::nullopt;
  }
  if (obj.is_list() && !obj.is_lazy()) {
    if (name == "index" || name == "count") {
      const bool idx = name == "index";
      return Value::func(name, [obj, idx](Interp& i, CallArgs& a) -> Value {
        if (a.pos.empty()) i.fail("expected 1 argument");
        int64_t n = 0;
        for (size_t k = 0; k < obj.items().size(); ++k) {
          if (!equals(obj.items()[k], a.pos[0])) continue;
          if (idx) return Value(static_cast<int64_t>(k));
          ++n;
        }
        if (idx) i.fail(ChatErrorKind::Value, to_repr(a.pos[0]) + " is not in list");
        return Value(n);
      });
    }
    if (!obj.list_obj().is_tuple && in_list(kUnsafeList, name)) return unsafe(name, obj);
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, Value>> builtin_globals() {
  std::vector<std::pair<std::string, Value>> g;
  g.emplace_back("raise_exception", Value::func("raise_exception", [](Interp& in, CallArgs& a) -> Value {
    const std::string msg = a.pos.empty() ? std::string() : to_str(a.pos[0]);
    in.fail(ChatErrorKind::Raised, msg);
  }));
  g.emplace_back("strftime_now", Value::func("strftime_now", [](Interp& in, CallArgs& a) -> Value {
    if (a.pos.empty() || !a.pos[0].is_string()) in.fail("strftime_now() requires a format string");
    std::tm tm{};
    if (in.now()) {
      tm = *in.now();
    } else {
      const std::time_t t = std::time(nullptr);
      localtime_r(&t, &tm);
    }
    char buf[512];
    const size_t n = std::strftime(buf, sizeof(buf), a.pos[0].str().c_str(), &tm);
    return in.make_string(std::string(buf, n));
  }));
  auto make_dict = [](bool ns) {
    return [ns](Interp& in, CallArgs& a) -> Value {
      auto d = std::make_shared<DictObj>();
      d->is_namespace = ns;
      if (!a.pos.empty()) {
        if (a.pos.size() > 1 || !a.pos[0].is_dict()) in.fail("expected at most one mapping argument");
        d->items = a.pos[0].dict_obj().items;
      }
      for (const auto& kv : a.kw) d->set(Value(kv.first), kv.second);
      return Value::dict(std::move(d));
    };
  };
  g.emplace_back("namespace", Value::func("namespace", make_dict(true)));
  g.emplace_back("dict", Value::func("dict", make_dict(false)));
  g.emplace_back("range", Value::func("range", [](Interp& in, CallArgs& a) -> Value {
    if (a.pos.empty() || a.pos.size() > 3) in.fail("range expected 1 to 3 arguments");
    for (const Value& v : a.pos)
      if (!v.is_int() && !v.is_bool()) in.fail("'" + v.type_name() + "' object cannot be interpreted as an integer");
    int64_t start = 0, stop, step = 1;
    if (a.pos.size() == 1) stop = a.pos[0].as_int();
    else start = a.pos[0].as_int(), stop = a.pos[1].as_int();
    if (a.pos.size() == 3) step = a.pos[2].as_int();
    if (step == 0) in.fail(ChatErrorKind::Value, "range() arg 3 must not be zero");
    const double len = std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)));
    if (len > static_cast<double>(in.limits().max_range))
      in.fail(ChatErrorKind::Overflow, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + std::to_string(in.limits().max_range) + ").");
    ValueList out;
    for (int64_t i = 0; i < static_cast<int64_t>(len); ++i) out.emplace_back(start + i * step);
    return in.make_list(std::move(out));
  }));
  return g;
}

std::optional<int64_t> to_int(const Value& v) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_float()) {
    const double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  if (!v.is_string()) return std::nullopt;
  std::string s = utf8::strip(v.str(), nullptr, true, true);
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_' && i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 1])))
      continue;
    if (!(std::isdigit(static_cast<unsigned char>(c)) || (i == 0 && (c == '-' || c == '+')))) return std::nullopt;
    digits += c;
  }
  if (digits.empty() || digits == "-" || digits == "+") return std::nullopt;
  errno = 0;
  const long long x = std::strtoll(digits.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(x);
}

std::optional<double> to_float(const Value& v) {
  if (v.is_number()) return v.as_double();
  if (!v.is_string()) return std::nullopt;
  const std::string s = utf8::strip(v.str(), nullptr, true, true);
  if (s.empty() || s.find_first_of("xXpP") != std::string::npos) return std::nullopt;
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i)
    if (!(s[i] == '_' && i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
          std::isdigit(static_cast<unsigned char>(s[i + 1]))))
      clean += s[i];
  char* end = nullptr;
  const double d = std::strtod(clean.c_str(), &end);
  if (!end || *end != 0) return std::nullopt;
  return d;
}

std::string format_percent(Interp& in, const std::string& fmt, const Value& args) {
  ValueList positional;
  const Value* mapping = nullptr;
  // Python: a tuple gives the values; anything else with __getitem__ (dict, list, Undefined) is
  // a "mapping" that is also the one positional value and excuses unused arguments.
  const bool mapping_like = args.is_dict() || args.is_undefined() || (args.is_list() && !args.list_obj().is_tuple);
  if (args.is_list() && args.list_obj().is_tuple) positional = args.items();
  else positional.push_back(args);
  if (args.is_dict()) mapping = &args;
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) in.fail(ChatErrorKind::Value, "incomplete format");
    const Value* val = nullptr;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string::npos || !mapping) in.fail("format requires a mapping");
      val = mapping->dict_obj().find(fmt.substr(i + 1, close - i - 1));
      if (!val) in.fail(ChatErrorKind::Key, "'" + fmt.substr(i + 1, close - i - 1) + "'");
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string("-+ #0").find(fmt[i]) != std::string::npos) flags += fmt[i++];
    auto number = [&]() {
      int64_t n = -1;
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])))
        n = std::min<int64_t>(std::max<int64_t>(n, 0) * 10 + (fmt[i++] - '0'), 256);
      return n;
    };
    const int64_t width = number();
    int64_t prec = -1;
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      prec = std::max<int64_t>(number(), 0);
    }
    if (i >= fmt.size()) in.fail(ChatErrorKind::Value, "incomplete format");
    const char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!val) {
      if (next >= positional.size()) in.fail("not enough arguments for format string");
      val = &positional[next++];
    }
    std::string spec = "%" + flags + (width >= 0 ? std::to_string(width) : "") + (prec >= 0 ? "." + std::to_string(prec) : "");
    if (conv == 's' || conv == 'r') {
      std::string t = conv == 's' ? to_str(*val) : to_repr(*val);
      if (prec >= 0) {
        const std::vector<size_t> off = utf8::offsets(t);
        if (static_cast<size_t>(prec) + 1 < off.size()) t.resize(off[static_cast<size_t>(prec)]);
      }
      const auto len = static_cast<int64_t>(utf8::length(t));
      if (len < width) {
        const std::string fill(static_cast<size_t>(width - len), ' ');
        t = flags.find('-') != std::string::npos ? t + fill : fill + t;
      }
      out += t;
    } else if (std::string("diouxXeEfFgGc").find(conv) != std::string::npos) {
      if (!val->is_number()) in.fail("%" + std::string(1, conv) + " format: a real number is required, not " + val->type_name());
      char buf[600];
      if (std::string("dioxXuc").find(conv) != std::string::npos) {
        const auto x = to_int(*val);
        if (!x) in.fail(ChatErrorKind::Value, "cannot format this number");
        const char c = (conv == 'i' || conv == 'u') ? 'd' : conv;
        std::snprintf(buf, sizeof(buf), (spec + "ll" + c).c_str(), static_cast<long long>(*x));
      } else {
        std::snprintf(buf, sizeof(buf), (spec + conv).c_str(), val->as_double());
      }
      out += buf;
    } else {
      in.fail(ChatErrorKind::Value, std::string("unsupported format character '") + conv + "'");
    }
    if (out.size() > in.limits().max_string_bytes) in.fail(ChatErrorKind::Limit, "template built a string that is too large");
  }
  if (!mapping_like && next < positional.size()) in.fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace nagare::jinja
