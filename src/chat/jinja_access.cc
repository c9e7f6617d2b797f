// Python object protocol for the interpreter: attribute and item access, slicing, iteration,
// membership, comparison and arithmetic with Python's rules and errors (see jinja_interp.h).
#include <cmath>

#include "chat/jinja_interp.h"
#include "chat/jinja_unicode.h"

namespace nagare::jinja {

namespace {

// Python's PySlice_AdjustIndices: resolves start/stop for a sequence of length n.
void adjust_slice(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step,
                  int64_t& b, int64_t& e) {
  auto clamp = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  b = clamp(start, step < 0 ? n - 1 : 0);
  e = clamp(stop, step < 0 ? -1 : n);
}

}  // namespace

Value Interp::eval_slice(const Value& obj, const Expr& slice) {
  std::optional<int64_t> parts[3];
  for (int k = 0; k < 3; ++k) {
    if (!slice.args[k]) continue;
    Value v = eval(*slice.args[k]);
    if (v.is_none()) continue;
    if (!v.is_int() && !v.is_bool()) fail("slice indices must be integers or None");
    parts[k] = v.as_int();
  }
  pos_ = slice.pos;
  const int64_t step = parts[2].value_or(1);
  if (step == 0) fail(ChatErrorKind::Value, "slice step cannot be zero");
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_lazy()) return Value::undefined("'" + obj.type_name() + "' object is not subscriptable");
  auto pick = [&](int64_t n, auto&& take) {
    int64_t b, e;
    adjust_slice(n, parts[0], parts[1], step, b, e);
    for (int64_t i = b; step > 0 ? i < e : i > e; i += step) take(i);
  };
  if (obj.is_string()) {
    const std::string& s = obj.str();
    std::string out;
    if (utf8::is_ascii(s)) {
      pick(static_cast<int64_t>(s.size()), [&](int64_t i) { out += s[i]; });
    } else {
      const std::vector<size_t> off = utf8::offsets(s);
      pick(static_cast<int64_t>(off.size() - 1), [&](int64_t i) { out.append(s, off[i], off[i + 1] - off[i]); });
    }
    return obj.is_markup() ? Value::markup(std::move(out)) : make_string(std::move(out));
  }
  if (obj.is_list()) {
    const ValueList& items = obj.items();
    ValueList out;
    pick(static_cast<int64_t>(items.size()), [&](int64_t i) { out.push_back(items[i]); });
    return make_list(std::move(out), obj.list_obj().is_tuple);
  }
  // jinja2 emits slices as plain Python subscripts, so this is a TypeError, except while its
  // optimizer folds constants through environment.getitem, which gives an Undefined.
  if (fold_mode_) return Value::undefined("'" + obj.type_name() + "' object is not subscriptable");
  fail("'" + obj.type_name() + "' object is not subscriptable");
}

namespace {

// Steps a pass over a list's items costs (iterating, comparing): one per 2 items and one per 128
// bytes of their strings, so that a list of many references to one large string is no way
// around the step limit (tests/unit/chat/fuzz_regressions_test.cc).
uint64_t pass_cost(const Value& list) {
  uint64_t bytes = 0;
  for (const Value& x : list.items()) bytes += x.is_string() ? x.str().size() : 0;
  return list.items().size() / 2 + bytes / 128;
}

}  // namespace

bool Interp::compare(const std::string& op, const Value& a, const Value& b) {
  if (a.is_list() && b.is_list()) work(pass_cost(a) + pass_cost(b));
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in") return contains(b, a);
  if (op == "notin") return !contains(b, a);
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  try {
    if (op == "<") return less_than(a, b);
    if (op == ">") return less_than(b, a);
    if (op == "<=") return !less_than(b, a);
    if (op == ">=") return !less_than(a, b);
  } catch (const std::runtime_error& err) {
    fail(std::string(err.what()));
  }
  fail(ChatErrorKind::Runtime, "unknown comparison " + op);
}

bool Interp::contains(const Value& container, const Value& item) {
  switch (container.type()) {
    case Value::Type::Undefined: return false;
    case Value::Type::String:
      if (!item.is_string()) fail("'in <string>' requires string as left operand, not " + item.type_name());
      return container.str().find(item.str()) != std::string::npos;
    case Value::Type::List:
      for (const Value& x : iterate(container))
        if (equals(x, item)) return true;
      return false;
    case Value::Type::Dict:
      if ((item.is_list() && !item.list_obj().is_tuple) || item.is_dict()) fail("unhashable type: '" + item.type_name() + "'");
      return container.dict_obj().find(item) != nullptr;
    default: fail("argument of type '" + container.type_name() + "' is not iterable");
  }
}

ValueList Interp::iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return {};
    case Value::Type::List:
      if (v.list_obj().lazy == ListObj::Lazy::Iterator) {  // a generator runs once
        if (v.list_obj().consumed) return {};
        v.list_obj().consumed = true;
      }
      work(pass_cost(v));
      return v.items();
    case Value::Type::Dict: {
      if (v.dict_obj().is_namespace) break;
      ValueList keys;
      for (const auto& kv : v.dict_obj().items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Type::String: {
      ValueList chars;
      const std::string& s = v.str();
      // Charged before it is built: a 64 MiB string would be gigabytes of one-character values.
      charge(utf8::length(s) * sizeof(Value));
      for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        utf8::decode(s, i);
        chars.emplace_back(s.substr(start, i - start));
      }
      return chars;
    }
    default: break;
  }
  fail("'" + v.type_name() + "' object is not iterable");
}

namespace {

std::string object_desc(const Value& obj) {
  return obj.is_none() ? "'None'" : "'" + obj.type_name() + " object'";
}

}  // namespace

Value Interp::loop_attr(const Value& loop, const std::string& name) {
  const LoopObj& l = *loop.loop_ptr();
  const auto n = static_cast<int64_t>(l.items->size());
  const auto i = static_cast<int64_t>(l.index0);
  if (name == "index") return Value(i + 1);
  if (name == "index0") return Value(i);
  if (name == "revindex") return Value(n - i);
  if (name == "revindex0") return Value(n - i - 1);
  if (name == "first") return Value(i == 0);
  if (name == "last") return Value(i == n - 1);
  if (name == "length") return Value(n);
  if (name == "depth") return Value(static_cast<int64_t>(l.depth0 + 1));
  if (name == "depth0") return Value(static_cast<int64_t>(l.depth0));
  if (name == "previtem")
    return i > 0 ? (*l.items)[i - 1] : Value::undefined("there is no previous item");
  if (name == "nextitem")
    return i + 1 < n ? (*l.items)[i + 1] : Value::undefined("there is no next item");
  if (name == "cycle") {
    return Value::func("cycle", [i](Interp& in, CallArgs& args) -> Value {
      if (args.pos.empty()) in.fail("no items for cycling given");
      return args.pos[static_cast<size_t>(i) % args.pos.size()];
    });
  }
  return Value::undefined("'LoopContext object' has no attribute '" + name + "'");
}

Value Interp::getattr(const Value& obj, const std::string& name) {
  switch (obj.type()) {
    case Value::Type::Undefined: fail_undefined(obj);
    case Value::Type::Loop: return loop_attr(obj, name);
    case Value::Type::Dict:
      if (obj.dict_obj().is_namespace) {
        if (const Value* v = obj.dict_obj().find(name)) return *v;
        return Value::undefined("'Namespace object' has no attribute '" + name + "'");
      }
      if (auto m = get_method(*this, obj, name)) return *m;
      if (const Value* v = obj.dict_obj().find(name)) return *v;
      break;
    case Value::Type::String:
    case Value::Type::List:
      if (auto m = get_method(*this, obj, name)) return *m;
      break;
    default: break;
  }
  return Value::undefined(object_desc(obj) + " has no attribute '" + name + "'");
}

Value Interp::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict() && !obj.dict_obj().is_namespace) {
    if (const Value* v = obj.dict_obj().find(key)) return *v;
  } else if (((obj.is_list() && !obj.is_lazy()) || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.items().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
    } else {
      const std::string& s = obj.str();
      if (utf8::is_ascii(s)) {
        const auto n = static_cast<int64_t>(s.size());
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
          Value c(std::string(1, s[static_cast<size_t>(i)]));
          return obj.is_markup() ? Value::markup(c.str()) : c;
        }
      } else {
        const std::vector<size_t> off = utf8::offsets(s);
        const auto n = static_cast<int64_t>(off.size() - 1);
        if (i < 0) i += n;
        if (i >= 0 && i < n) {
          std::string c = s.substr(off[i], off[i + 1] - off[i]);
          return obj.is_markup() ? Value::markup(std::move(c)) : Value(std::move(c));
        }
      }
    }
  } else if (obj.is_loop() && key.is_string()) {
    return loop_attr(obj, key.str());
  }
  if (key.is_string()) {
    if (obj.is_dict() && obj.dict_obj().is_namespace) return getattr(obj, key.str());
    if (auto m = get_method(*this, obj, key.str())) return *m;
    return Value::undefined(object_desc(obj) + " has no attribute '" + key.str() + "'");
  }
  return Value::undefined(object_desc(obj) + " has no element " + to_repr(key));
}

// ---------------------------------------------------------------- arithmetic

namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

}  // namespace

Value Interp::binop(const std::string& op, const Value& a, const Value& b) {
  // str % x: Undefined (it has __getitem__) is taken as a mapping, like lists and dicts.
  if (op == "%" && a.is_string()) return make_string(format_percent(*this, a.str(), b));
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  const char o = op[0];
  if (a.is_number() && b.is_number()) {
    const bool as_float = a.is_float() || b.is_float() || op == "/";
    if (op == "**") {
      if (!as_float && b.as_int() >= 0) {
        int64_t result = 1, base = a.as_int(), e = b.as_int();
        while (e > 0) {
          if ((e & 1) && __builtin_mul_overflow(result, base, &result)) fail(ChatErrorKind::Overflow, "integer overflow");
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) fail(ChatErrorKind::Overflow, "integer overflow");
        }
        return Value(result);
      }
      if (a.as_double() == 0.0 && b.as_double() < 0) fail(ChatErrorKind::ZeroDivision, "0.0 cannot be raised to a negative power");
      return Value(std::pow(a.as_double(), b.as_double()));
    }
    if (as_float) {
      const double x = a.as_double(), y = b.as_double();
      switch (o) {
        case '+': return Value(x + y);
        case '-': return Value(x - y);
        case '*': return Value(x * y);
        case '/':
          if (op == "//") {
            if (y == 0) fail(ChatErrorKind::ZeroDivision, "float floor division by zero");
            return Value(std::floor(x / y));
          }
          if (y == 0) fail(ChatErrorKind::ZeroDivision, "division by zero");
          return Value(x / y);
        case '%': {
          if (y == 0) fail(ChatErrorKind::ZeroDivision, "float modulo");
          double r = std::fmod(x, y);
          if (r != 0 && ((r < 0) != (y < 0))) r += y;
          if (r == 0) r = std::copysign(0.0, y);  // Python: a zero remainder takes the divisor's sign
          return Value(r);
        }
      }
    } else {
      const int64_t x = a.as_int(), y = b.as_int();
      int64_t r = 0;
      switch (o) {
        case '+':
          if (__builtin_add_overflow(x, y, &r)) fail(ChatErrorKind::Overflow, "integer overflow");
          return Value(r);
        case '-':
          if (__builtin_sub_overflow(x, y, &r)) fail(ChatErrorKind::Overflow, "integer overflow");
          return Value(r);
        case '*':
          if (__builtin_mul_overflow(x, y, &r)) fail(ChatErrorKind::Overflow, "integer overflow");
          return Value(r);
        case '/':
          if (y == 0) fail(ChatErrorKind::ZeroDivision, "integer division or modulo by zero");
          if (x == INT64_MIN && y == -1) fail(ChatErrorKind::Overflow, "integer overflow");
          return Value(floor_div(x, y));
        case '%':
          if (y == 0) fail(ChatErrorKind::ZeroDivision, "integer division or modulo by zero");
          if (y == -1) return Value(int64_t{0});
          return Value(floor_mod(x, y));
      }
    }
  }
  if (o == '+' && a.is_string() && b.is_string()) {
    if (a.str().size() + b.str().size() > limits_.max_string_bytes) fail(ChatErrorKind::Limit, "template built a string that is too large");
    if (a.is_markup() || b.is_markup()) {  // Markup.__add__ / __radd__ escape the plain operand
      std::string s = (a.is_markup() ? a.str() : html_escape(a.str())) + (b.is_markup() ? b.str() : html_escape(b.str()));
      charge(s.size());
      return Value::markup(std::move(s));
    }
    return make_string(a.str() + b.str());
  }
  if (o == '+' && a.is_list() && b.is_list() && !a.is_lazy() && !b.is_lazy() &&
      a.list_obj().is_tuple == b.list_obj().is_tuple) {
    ValueList items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return make_list(std::move(items), a.list_obj().is_tuple);
  }
  if (op == "*" && !a.is_lazy() && !b.is_lazy() && (a.is_string() || a.is_list() || b.is_string() || b.is_list())) {
    const Value& seq = (a.is_string() || a.is_list()) ? a : b;
    const Value& count = (a.is_string() || a.is_list()) ? b : a;
    if (!count.is_int() && !count.is_bool())
      fail("can't multiply sequence by non-int of type '" + count.type_name() + "'");
    const int64_t n = std::max<int64_t>(0, count.as_int());
    if (seq.is_string()) {
      const size_t unit = seq.str().size();
      if (unit && static_cast<uint64_t>(n) > limits_.max_string_bytes / unit)
        fail(ChatErrorKind::Limit, "template built a string that is too large");
      std::string s;
      for (int64_t i = 0; i < n; ++i) s += seq.str();
      if (seq.is_markup()) {
        charge(s.size());
        return Value::markup(std::move(s));
      }
      return make_string(std::move(s));
    }
    const size_t unit = seq.items().size();
    if (unit && static_cast<uint64_t>(n) > (limits_.max_alloc_bytes / sizeof(Value)) / unit)
      fail(ChatErrorKind::Limit, "template built too much data");
    ValueList items;
    for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq.items().begin(), seq.items().end());
    return make_list(std::move(items), seq.list_obj().is_tuple);
  }

  fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

}  // namespace nagare::jinja
