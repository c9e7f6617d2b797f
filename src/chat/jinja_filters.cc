// jinja2's built-in filters and tests (the ones chat templates use), with HF's tojson override.
#include <algorithm>
#include <cerrno>
#include <cfenv>
#include <cstdlib>
#include <cmath>
#include <set>
#include <stdexcept>

#include "chat/jinja_interp.h"
#include "chat/jinja_parser.h"
#include "chat/jinja_unicode.h"

namespace nagare::jinja {
namespace {

const std::set<std::string>& filter_names() {
  static const std::set<std::string> names = {
      "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
      "escape", "first", "float", "forceescape", "format", "indent", "int", "items", "join", "last",
      "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
      "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim",
      "unique", "upper", "wordcount"};
  return names;
}

const std::set<std::string>& test_names() {
  static const std::set<std::string> names = {
      "defined", "undefined", "none", "string", "mapping", "iterable", "number", "integer", "float",
      "sequence", "boolean", "true", "false", "callable", "equalto", "eq", "==", "ne", "!=", "lt",
      "<", "le", "<=", "gt", ">", "ge", ">=", "in", "odd", "even", "divisibleby", "sameas", "lower",
      "upper", "filter", "test", "escaped"};
  return names;
}

int64_t length_of(Interp& in, const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return 0;
    case Value::Type::String: return static_cast<int64_t>(utf8::length(v.str()));
    case Value::Type::List:
      if (v.list_obj().lazy == ListObj::Lazy::Iterator) break;
      return static_cast<int64_t>(v.items().size());
    case Value::Type::Dict:
      if (!v.dict_obj().is_namespace) return static_cast<int64_t>(v.dict_obj().items.size());
      break;
    case Value::Type::Loop: return static_cast<int64_t>(v.loop_ptr()->items->size());
    default: break;
  }
  in.fail("object of type '" + v.type_name() + "' has no len()");
}

// Attribute path "a.b.0" as jinja2's make_attrgetter resolves it (items, then attributes).
Value get_path(Interp& in, const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    const bool small = numeric && part.size() <= 18;  // longer digit runs are names to jinja2 too
    v = in.getitem(v, small ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

// Result of a str filter: Markup in, Markup out (markupsafe's str methods keep the type).
Value keep_markup(Interp& in, const Value& v, std::string s) {
  if (v.is_markup()) {
    in.charge(s.size());
    return Value::markup(std::move(s));
  }
  return in.make_string(std::move(s));
}

Value generator(Interp& in, ValueList items, const char* type = "generator") {
  in.charge(items.size() * sizeof(Value));
  return Value::lazy(std::move(items), ListObj::Lazy::Iterator, type);
}

// Sort key for sort/dictsort/min/max/unique: lower-cased strings unless case-sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(utf8::lower(v.str()));
  return v;
}

bool sort_less(Interp& in, const Value& a, const Value& b) {
  try {
    return less_than(a, b);
  } catch (const std::runtime_error& e) {
    in.fail(e.what());
  }
}

bool arg_bool(const CallArgs& args, size_t i, const char* name, bool def) {
  const Value* v = args.get(i, name);
  return v ? v->truthy() : def;
}

std::string indent_text(const std::string& s_in, const std::string& ind, bool first, bool blank) {
  const std::string s = s_in + "\n";  // jinja2's quirk so splitlines() keeps a trailing empty line
  const std::vector<std::string> lines = utf8::splitlines(s, false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
  }
  return first ? ind + rv : rv;
}

// jinja2's title filter: capitalizes each piece split at runs of [-\s({[<].
std::string jinja_title(const std::string& s) {
  std::string out;
  bool word_start = true;
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = utf8::decode(s, i);
    const bool sep = utf8::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      utf8::encode(c, out);
      word_start = true;
      continue;
    }
    utf8::encode(word_start ? utf8::to_upper(c) : utf8::to_lower(c), out);
    word_start = false;
  }
  return out;
}

Value select_like(Interp& in, const Value& seq, CallArgs& args, bool by_attr, bool keep) {
  ValueList out;
  size_t first_arg = 0;
  std::string attr;
  if (by_attr) {
    if (args.pos.empty()) in.fail(ChatErrorKind::Runtime, "Missing parameter for attribute name");
    attr = to_str(args.pos[0]);
    first_arg = 1;
  }
  std::string test;
  CallArgs test_args;
  if (args.pos.size() > first_arg) {
    test = to_str(args.pos[first_arg]);
    test_args.pos.assign(args.pos.begin() + static_cast<long>(first_arg) + 1, args.pos.end());
    test_args.kw = args.kw;
  }
  if (!seq.truthy()) return generator(in, {});  // jinja2: `if value:` before iterating
  for (const Value& item : in.iterate(seq)) {
    const Value subject = by_attr ? get_path(in, item, attr) : item;
    CallArgs a = test_args;
    const bool ok = test.empty() ? subject.truthy() : apply_test(in, test, subject, a);
    if (ok == keep) out.push_back(item);
  }
  return generator(in, std::move(out));
}

Value map_filter(Interp& in, const Value& seq, CallArgs& args) {
  ValueList out;
  if (!seq.truthy()) return generator(in, {});
  const Value* attribute = nullptr;
  for (const auto& kv : args.kw)
    if (kv.first == "attribute") attribute = &kv.second;
  if (attribute) {
    const Value* def = nullptr;
    for (const auto& kv : args.kw)
      if (kv.first == "default") def = &kv.second;
    for (const Value& item : in.iterate(seq)) {
      Value v = get_path(in, item, to_str(*attribute));
      out.push_back(v.is_undefined() && def ? *def : v);
    }
    return generator(in, std::move(out));
  }
  if (args.pos.empty()) in.fail(ChatErrorKind::Runtime, "map requires a filter argument");
  const std::string name = to_str(args.pos[0]);
  if (!is_known_filter(name)) in.fail(ChatErrorKind::Runtime, "No filter named '" + name + "'.");
  for (const Value& item : in.iterate(seq)) {
    CallArgs fa;
    fa.pos.assign(args.pos.begin() + 1, args.pos.end());
    fa.kw = args.kw;
    out.push_back(apply_filter(in, name, item, fa));
  }
  return generator(in, std::move(out));
}

Value sorted_filter(Interp& in, const Value& seq, CallArgs& args) {
  args.check(in, "sort", 3, {"reverse", "case_sensitive", "attribute"});
  const bool reverse = arg_bool(args, 0, "reverse", false);
  const bool cs = arg_bool(args, 1, "case_sensitive", false);
  const Value* attr = args.get(2, "attribute");
  ValueList items = in.iterate(seq);
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i)
    keyed.emplace_back(sort_key(attr ? get_path(in, items[i], to_str(*attr)) : items[i], cs), i);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? sort_less(in, b.first, a.first) : sort_less(in, a.first, b.first);
  });
  ValueList out;
  for (const auto& k : keyed) out.push_back(items[k.second]);
  return in.make_list(std::move(out));
}

Value min_max(Interp& in, const Value& seq, CallArgs& args, bool want_max) {
  const bool cs = arg_bool(args, 0, "case_sensitive", false);
  const Value* attr = args.get(1, "attribute");
  ValueList items = in.iterate(seq);
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  Value best_key = sort_key(attr ? get_path(in, items[0], to_str(*attr)) : items[0], cs);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = sort_key(attr ? get_path(in, items[i], to_str(*attr)) : items[i], cs);
    if (want_max ? sort_less(in, best_key, k) : sort_less(in, k, best_key)) best = i, best_key = k;
  }
  return items[best];
}

Value tojson_filter(Interp& in, const Value& v, CallArgs& args) {
  // HF's override: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
  args.check(in, "tojson", 4, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonFormat fmt;
  fmt.ensure_ascii = arg_bool(args, 0, "ensure_ascii", false);
  if (const Value* ind = args.get(1, "indent"); ind && !ind->is_none()) {
    if (ind->is_string()) fmt.indent_str = ind->str(), fmt.indent = 0;
    else if (ind->is_int() || ind->is_bool()) fmt.indent = static_cast<int>(std::clamp<int64_t>(ind->as_int(), 0, 64));
    else in.fail("tojson indent must be an int or a string");
  }
  if (const Value* sep = args.get(2, "separators"); sep && !sep->is_none()) {
    if (!sep->is_list()) in.fail("tojson separators must be a pair");
    if (sep->items().size() != 2) in.fail(ChatErrorKind::Value, "tojson separators must be a pair");
    fmt.separators_given = true;
    fmt.item_sep = to_str(sep->items()[0]);
    fmt.key_sep = to_str(sep->items()[1]);
  } else if (fmt.indent >= 0) {
    fmt.key_sep = ": ";
  }
  fmt.sort_keys = arg_bool(args, 3, "sort_keys", false);
  try {
    return in.make_string(to_json(v, fmt));
  } catch (const NestingLimitError& e) {
    in.fail(ChatErrorKind::Limit, e.what());
  } catch (const std::runtime_error& e) {
    in.fail(e.what());
  }
}

Value replace_filter(Interp& in, const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  std::string out;
  if (old.empty()) {  // Python inserts `repl` before every character and at the end
    const std::vector<size_t> off = utf8::offsets(s);
    int64_t done = 0;
    for (size_t k = 0; k + 1 < off.size(); ++k) {
      if (count < 0 || done < count) out += repl, ++done;
      out.append(s, off[k], off[k + 1] - off[k]);
      if (out.size() > in.limits().max_string_bytes) in.fail(ChatErrorKind::Limit, "template built a string that is too large");
    }
    if (count < 0 || done < count) out += repl;
    return in.make_string(std::move(out));
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t at = s.find(old, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += repl;
    if (out.size() > in.limits().max_string_bytes) in.fail(ChatErrorKind::Limit, "template built a string that is too large");
    start = at + old.size();
    ++done;
  }
  out.append(s, start, std::string::npos);
  return in.make_string(std::move(out));
}

double python_round(double x, int64_t digits) {
  const double scale = std::pow(10.0, static_cast<double>(digits));
  const int saved = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const double r = std::nearbyint(x * scale) / scale;
  std::fesetround(saved);
  return r;
}

}  // namespace

bool is_known_filter(const std::string& name) { return filter_names().count(name) != 0; }
bool is_known_test(const std::string& name) { return test_names().count(name) != 0; }

Value apply_filter(Interp& in, const std::string& name, const Value& v, CallArgs& args) {
  const std::string& n = name;
  if (n == "default" || n == "d") {
    const Value* def = args.get(0, "default_value");
    if (v.is_undefined() || (arg_bool(args, 1, "boolean", false) && !v.truthy())) return def ? *def : Value("");
    return v;
  }
  if (n == "length" || n == "count") return Value(length_of(in, v));
  if (n == "string") return keep_markup(in, v, to_str(v));
  if (n == "safe") return v.is_markup() ? v : Value::markup(to_str(v));
  if (n == "trim") {
    const Value* chars = args.get(0, "chars");
    const std::string cs = chars && !chars->is_none() ? to_str(*chars) : std::string();
    return keep_markup(in, v, utf8::strip(to_str(v), chars && !chars->is_none() ? &cs : nullptr, true, true));
  }
  if (n == "upper") return keep_markup(in, v, utf8::upper(to_str(v)));
  if (n == "lower") return keep_markup(in, v, utf8::lower(to_str(v)));
  if (n == "capitalize") return keep_markup(in, v, utf8::capitalize(to_str(v)));
  if (n == "title") return keep_markup(in, v, jinja_title(to_str(v)));
  if (n == "tojson") return tojson_filter(in, v, args);
  if (n == "escape" || n == "e" || n == "forceescape") {
    if (v.is_markup() && n != "forceescape") return v;
    return Value::markup(html_escape(to_str(v)));
  }
  if (n == "replace") {
    args.check(in, "replace", 3, {"old", "new", "count"});
    const Value* old = args.get(0, "old");
    const Value* repl = args.get(1, "new");
    if (!old || !repl) in.fail("replace() missing required arguments");
    const Value* count = args.get(2, "count");
    return replace_filter(in, to_str(v), to_str(*old), to_str(*repl),
                          count && !count->is_none() ? count->as_int() : -1);
  }
  if (n == "join") {
    const Value* sep = args.get(0, "d");
    const Value* attr = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : in.iterate(v)) {
      if (!first && sep) append_str(out, *sep);
      first = false;
      append_str(out, attr ? get_path(in, item, to_str(*attr)) : item);
      if (out.size() > in.limits().max_string_bytes) in.fail(ChatErrorKind::Limit, "template built a string that is too large");
    }
    return in.make_string(std::move(out));
  }
  if (n == "first" || n == "last") {
    if (n == "last" && v.is_list() && v.list_obj().lazy == ListObj::Lazy::Iterator)
      in.fail("'" + v.type_name() + "' object is not reversible");
    ValueList items = in.iterate(v);
    if (items.empty()) return Value::undefined("No " + n + " item, sequence was empty.");
    return n == "first" ? items.front() : items.back();
  }
  if (n == "list") return in.make_list(in.iterate(v));
  if (n == "reverse") {
    if (v.is_string()) {
      const std::vector<uint32_t> cps = utf8::to_code_points(v.str());
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) utf8::encode(*it, out);
      return keep_markup(in, v, std::move(out));
    }
    const bool iterator = v.is_list() && v.list_obj().lazy == ListObj::Lazy::Iterator;
    // reversed(v), then list(v): a value that is neither is jinja2's FilterArgumentError.
    if (!v.is_undefined() && !v.is_list() && !(v.is_dict() && !v.dict_obj().is_namespace))
      in.fail(ChatErrorKind::Runtime, "argument must be iterable");
    ValueList items = in.iterate(v);
    std::reverse(items.begin(), items.end());
    if (iterator) return in.make_list(std::move(items));  // reversed() fails; jinja2 falls back to a list
    return generator(in, std::move(items), v.is_dict() ? "dict_reversekeyiterator" : "list_reverseiterator");
  }
  if (n == "items") {
    if (v.is_undefined()) return in.make_list({});
    if (!v.is_dict() || v.dict_obj().is_namespace) in.fail("Can only get item pairs from a mapping.");
    ValueList out;
    for (const auto& kv : v.dict_obj().items) out.push_back(Value::list({kv.first, kv.second}, true));
    return generator(in, std::move(out));
  }
  if (n == "dictsort") {
    if (v.is_undefined()) in.fail_undefined(v);
    if (!v.is_dict()) in.fail(ChatErrorKind::Attribute, "'" + v.type_name() + "' object has no attribute 'items'");
    const bool cs = arg_bool(args, 0, "case_sensitive", false);
    const Value* by = args.get(1, "by");
    const bool by_value = by && to_str(*by) == "value";
    const bool reverse = arg_bool(args, 2, "reverse", false);
    std::vector<std::pair<Value, Value>> items = v.dict_obj().items;
    std::stable_sort(items.begin(), items.end(), [&](const auto& a, const auto& b) {
      const Value ka = sort_key(by_value ? a.second : a.first, cs);
      const Value kb = sort_key(by_value ? b.second : b.first, cs);
      return reverse ? sort_less(in, kb, ka) : sort_less(in, ka, kb);
    });
    ValueList out;
    for (auto& kv : items) out.push_back(Value::list({kv.first, kv.second}, true));
    return in.make_list(std::move(out));
  }
  if (n == "int") {
    if (v.is_undefined()) in.fail_undefined(v);  // int(Undefined) raises, not TypeError
    const Value* def = args.get(0, "default");
    const Value* base = args.get(1, "base");
    if (v.is_string() && base && base->as_int() != 10) {
      errno = 0;
      char* end = nullptr;
      const std::string s = utf8::strip(v.str(), nullptr, true, true);
      const long long x = std::strtoll(s.c_str(), &end, static_cast<int>(base->as_int()));
      if (!s.empty() && end && *end == 0 && errno == 0) return Value(static_cast<int64_t>(x));
    } else if (auto x = to_int(v)) {
      return Value(*x);
    } else if (auto f = to_float(v); f && std::isfinite(*f) && std::fabs(*f) < 9.2e18) {
      return Value(static_cast<int64_t>(*f));
    }
    return def ? *def : Value(int64_t{0});
  }
  if (n == "float") {
    if (v.is_undefined()) in.fail_undefined(v);
    const Value* def = args.get(0, "default");
    if (auto f = to_float(v)) return Value(*f);
    return def ? *def : Value(0.0);
  }
  if (n == "abs") {
    if (v.is_float()) return Value(std::fabs(v.as_double()));
    if (v.is_int() || v.is_bool()) {
      if (v.as_int() == INT64_MIN) in.fail(ChatErrorKind::Overflow, "integer overflow");
      return Value(static_cast<int64_t>(std::llabs(v.as_int())));
    }
    in.fail("bad operand type for abs(): '" + v.type_name() + "'");
  }
  if (n == "round") {
    const Value* prec = args.get(0, "precision");
    const Value* method = args.get(1, "method");
    const int64_t p = prec ? prec->as_int() : 0;
    const std::string m = method ? to_str(*method) : "common";
    if (!v.is_number()) in.fail("round() requires a number");
    if (m == "common") {
      if (!v.is_float()) return Value(v.as_int());
      return Value(python_round(v.as_double(), p));
    }
    const double scale = std::pow(10.0, static_cast<double>(p));
    if (m == "ceil") return Value(std::ceil(v.as_double() * scale) / scale);
    if (m == "floor") return Value(std::floor(v.as_double() * scale) / scale);
    in.fail(ChatErrorKind::Runtime, "method must be common, ceil or floor");
  }
  if (n == "indent") {
    if (v.is_undefined()) in.fail_undefined(v);
    // jinja2 runs `s += "\n"` and then s.splitlines(): a list takes the += and fails on the call.
    if (v.is_list() && !v.is_lazy() && !v.list_obj().is_tuple)
      in.fail(ChatErrorKind::Attribute, "'list' object has no attribute 'splitlines'");
    if (v.is_list() && v.list_obj().is_tuple) in.fail("can only concatenate tuple (not \"str\") to tuple");
    if (!v.is_string()) in.fail("unsupported operand type(s) for +=: '" + v.type_name() + "' and 'str'");
    const Value* width = args.get(0, "width");
    const std::string ind = width && width->is_string() ? width->str()
                                                        : std::string(static_cast<size_t>(std::clamp<int64_t>(width ? width->as_int() : 4, 0, 1024)), ' ');
    return keep_markup(in, v, indent_text(to_str(v), ind, arg_bool(args, 1, "first", false), arg_bool(args, 2, "blank", false)));
  }
  if (n == "center") {
    const Value* w = args.get(0, "width");
    const int64_t width = std::min<int64_t>(w ? w->as_int() : 80, 1 << 20);
    const std::string s = to_str(v);
    const auto len = static_cast<int64_t>(utf8::length(s));
    if (width <= len) return in.make_string(s);
    const int64_t marg = width - len;
    const int64_t left = marg / 2 + (marg & width & 1);
    return in.make_string(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(marg - left), ' '));
  }
  if (n == "format") {
    if (!args.kw.empty()) {
      Value d = Value::dict();
      for (const auto& kv : args.kw) d.dict_ptr()->set(Value(kv.first), kv.second);
      return in.make_string(format_percent(in, to_str(v), d));
    }
    return in.make_string(format_percent(in, to_str(v), Value::list(args.pos, true)));
  }
  if (n == "map") return map_filter(in, v, args);
  if (n == "select" || n == "reject") return select_like(in, v, args, false, n == "select");
  if (n == "selectattr" || n == "rejectattr") return select_like(in, v, args, true, n == "selectattr");
  if (n == "sort") return sorted_filter(in, v, args);
  if (n == "unique") {
    const bool cs = arg_bool(args, 0, "case_sensitive", false);
    const Value* attr = args.get(1, "attribute");
    ValueList out, seen;
    for (const Value& item : in.iterate(v)) {
      Value k = sort_key(attr ? get_path(in, item, to_str(*attr)) : item, cs);
      if ((k.is_list() && !k.list_obj().is_tuple) || k.is_dict()) in.fail("unhashable type: '" + k.type_name() + "'");
      in.work(seen.size() / 8);  // quadratic: a long list of distinct items hits max_steps
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); })) {
        seen.push_back(k);
        out.push_back(item);
      }
    }
    return generator(in, std::move(out));
  }
  if (n == "min" || n == "max") return min_max(in, v, args, n == "max");
  if (n == "sum") {
    const Value* attr = args.get(0, "attribute");
    const Value* start = args.get(1, "start");
    Value total = start ? *start : Value(int64_t{0});
    for (const Value& item : in.iterate(v)) total = in.binop("+", total, attr ? get_path(in, item, to_str(*attr)) : item);
    return total;
  }
  if (n == "attr") {
    const Value* a = args.get(0, "name");
    if (!a) in.fail("attr() missing name");
    if (auto m = get_method(in, v, to_str(*a))) return *m;
    if (v.is_dict() && v.dict_obj().is_namespace) return in.getattr(v, to_str(*a));
    return Value::undefined("'" + v.type_name() + " object' has no attribute '" + to_str(*a) + "'");
  }
  if (n == "batch") {
    const Value* count = args.get(0, "linecount");
    const Value* fill = args.get(1, "fill_with");
    const int64_t size = count ? count->as_int() : 1;
    if (size <= 0 || size > 1000000) in.fail(ChatErrorKind::Limit, "batch size must be between 1 and 1000000");
    ValueList out, cur;
    for (const Value& item : in.iterate(v)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == size) out.push_back(Value::list(std::move(cur))), cur.clear();
    }
    if (!cur.empty()) {
      if (fill && !fill->is_none())
        while (static_cast<int64_t>(cur.size()) < size) cur.push_back(*fill);
      out.push_back(Value::list(std::move(cur)));
    }
    return generator(in, std::move(out));
  }
  if (n == "wordcount") {
    const std::string s = to_str(v);
    int64_t words = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.size();) {
      const uint32_t c = utf8::decode(s, i);
      const bool w = c == '_' || (c >= '0' && c <= '9') || utf8::is_cased_letter(c) || c >= 0x3000;
      if (w && !in_word) ++words;
      in_word = w;
    }
    return Value(words);
  }
  in.fail(ChatErrorKind::Runtime, "No filter named '" + name + "'.");
}

bool apply_test(Interp& in, const std::string& name, const Value& v, CallArgs& args) {
  const std::string& n = name;
  auto arg = [&]() -> const Value& {
    if (args.pos.empty()) in.fail("test '" + name + "' requires an argument");
    return args.pos[0];
  };
  if (n == "defined") return !v.is_undefined();
  if (n == "undefined") return v.is_undefined();
  if (n == "none") return v.is_none();
  if (n == "string") return v.is_string();
  if (n == "mapping") return v.is_dict() && !v.dict_obj().is_namespace;
  if (n == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.dict_obj().is_namespace);
  if (n == "sequence") return v.is_undefined() || v.is_string() || (v.is_list() && !v.is_lazy()) || (v.is_dict() && !v.dict_obj().is_namespace);
  if (n == "number") return v.is_number();
  if (n == "integer") return v.is_int();
  if (n == "float") return v.is_float();
  if (n == "boolean") return v.is_bool();
  if (n == "true") return v.is_bool() && v.as_bool();
  if (n == "false") return v.is_bool() && !v.as_bool();
  if (n == "callable") return v.is_func() || v.is_undefined();
  if (n == "escaped") return false;
  if (n == "equalto" || n == "eq" || n == "==") return equals(v, arg());
  if (n == "ne" || n == "!=") return !equals(v, arg());
  if (n == "in") return in.contains(arg(), v);
  if (n == "lt" || n == "<" || n == "le" || n == "<=" || n == "gt" || n == ">" || n == "ge" || n == ">=") {
    const Value& b = arg();
    if (v.is_undefined()) in.fail_undefined(v);
    if (b.is_undefined()) in.fail_undefined(b);
    try {
      if (n == "lt" || n == "<") return less_than(v, b);
      if (n == "gt" || n == ">") return less_than(b, v);
      if (n == "le" || n == "<=") return !less_than(b, v);
      return !less_than(v, b);
    } catch (const std::runtime_error& e) {
      in.fail(e.what());
    }
  }
  if (n == "odd" || n == "even") {
    const Value r = in.binop("%", v, Value(int64_t{2}));
    return r.as_double() == (n == "odd" ? 1.0 : 0.0);
  }
  if (n == "divisibleby") return in.binop("%", v, arg()).as_double() == 0.0;
  if (n == "sameas") {
    const Value& b = arg();
    if (v.type() != b.type()) return false;
    if (v.is_none() || v.is_undefined()) return true;
    if (v.is_bool() || v.is_int()) return equals(v, b);
    if (v.is_string()) return v.str_ptr() == b.str_ptr();
    return equals(v, b) && (v.is_list() ? &v.list_obj() == &b.list_obj() : v.is_dict() ? &v.dict_obj() == &b.dict_obj() : true);
  }
  if (n == "lower" || n == "upper") {
    const std::string s = to_str(v);
    bool cased = false;
    for (size_t i = 0; i < s.size();) {
      const uint32_t c = utf8::decode(s, i);
      if (!utf8::is_cased_letter(c)) continue;
      cased = true;
      if (n == "lower" ? utf8::to_lower(c) != c : utf8::to_upper(c) != c) return false;
    }
    return cased;
  }
  if (n == "filter") return v.is_string() && is_known_filter(v.str());
  if (n == "test") return v.is_string() && is_known_test(v.str());
  in.fail(ChatErrorKind::Runtime, "No test named '" + name + "'.");
}

}  // namespace nagare::jinja
