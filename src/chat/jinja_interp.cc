// Statement execution, expression evaluation and Python-like object access; see jinja_interp.h.
#include "chat/jinja_interp.h"

#include <cmath>

#include "chat/jinja_unicode.h"

namespace nagare::jinja {

const Value* CallArgs::get(size_t index, const char* name) const {
  if (index < pos.size()) return &pos[index];
  if (name)
    for (const auto& kv : kw)
      if (kv.first == name) return &kv.second;
  return nullptr;
}

void CallArgs::check(Interp& in, const char* fn, size_t max_pos, std::initializer_list<const char*> names) const {
  if (pos.size() > max_pos)
    in.fail(std::string(fn) + "() takes at most " + std::to_string(max_pos) + " positional arguments (" +
            std::to_string(pos.size()) + " given)");
  for (const auto& kv : kw) {
    bool ok = false;
    for (const char* n : names) ok = ok || kv.first == n;
    if (!ok) in.fail(std::string(fn) + "() got an unexpected keyword argument '" + kv.first + "'");
  }
}

Value* Interp::Scope::find(const std::string& name) {
  for (auto& kv : vars)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

void Interp::Scope::set(const std::string& name, Value v) {
  if (Value* existing = find(name)) *existing = std::move(v);
  else vars.emplace_back(name, std::move(v));
}

Interp::DepthGuard::DepthGuard(Interp& i) : in(i) {
  if (++in.depth_ > in.limits_.max_depth) in.fail("template recursion too deep");
  if (++in.steps_ > in.limits_.max_steps) in.fail("template took too many steps");
}

void Interp::fail(const std::string& message) const { throw RenderError{message, pos_, false}; }

void Interp::charge(uint64_t bytes) {
  allocated_ += bytes;
  if (allocated_ > limits_.max_alloc_bytes) fail("template built too much data");
}

Value Interp::make_string(std::string s) {
  if (s.size() > limits_.max_string_bytes) fail("template built a string that is too large");
  charge(s.size());
  return Value(std::move(s));
}

Value Interp::make_list(ValueList items, bool is_tuple) {
  charge(items.size() * sizeof(Value));
  return Value::list(std::move(items), is_tuple);
}

std::string Interp::render(const StmtList& body, const std::vector<std::pair<std::string, Value>>& vars) {
  auto globals = std::make_shared<Scope>();
  for (auto& g : builtin_globals()) globals->set(g.first, std::move(g.second));
  for (const auto& v : vars) globals->set(v.first, v.second);
  scope_ = std::make_shared<Scope>();
  scope_->parent = globals;
  std::string out;
  out_ = &out;
  exec_list(body);
  out_ = nullptr;
  scope_.reset();
  return out;
}

// ---------------------------------------------------------------- statements

Interp::Flow Interp::exec_list(const StmtList& body) {
  for (const auto& s : body) {
    const Flow f = exec(*s);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

void Interp::write(const Value& v) {
  append_str(*out_, v);
  if (out_->size() > limits_.max_string_bytes) fail("template output is too large");
}

std::string Interp::capture(const StmtList& body) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec_list(body);
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  charge(buf.size());
  return buf;
}

Interp::Flow Interp::exec(const Stmt& s) {
  DepthGuard guard(*this);
  pos_ = s.pos;
  switch (s.kind) {
    case StmtKind::Data:
      out_->append(s.text);
      if (out_->size() > limits_.max_string_bytes) fail("template output is too large");
      return Flow::Normal;
    case StmtKind::Output: write(eval(*s.expr)); return Flow::Normal;
    case StmtKind::If:
      for (const auto& b : s.branches)
        if (eval(*b.first).truthy()) return exec_list(b.second);
      return exec_list(s.else_body);
    case StmtKind::For: return exec_for(s);
    case StmtKind::Set: exec_set(s); return Flow::Normal;
    case StmtKind::SetBlock: {
      Value v = make_string(capture(s.body));
      if (s.expr) v = eval_filter(*s.expr, &v);
      pos_ = s.pos;
      assign(*s.target, std::move(v), true);
      return Flow::Normal;
    }
    case StmtKind::Macro: scope_->set(s.name, define_macro(s)); return Flow::Normal;
    case StmtKind::FilterBlock: {
      Value v = make_string(capture(s.body));
      write(eval_filter(*s.expr, &v));
      return Flow::Normal;
    }
    case StmtKind::With: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope_;
      for (const auto& a : s.assigns) inner->set(a.first->name, eval(*a.second));
      auto saved = scope_;
      scope_ = inner;
      Flow f;
      try {
        f = exec_list(s.body);
      } catch (...) {
        scope_ = saved;
        throw;
      }
      scope_ = saved;
      return f;
    }
    case StmtKind::Break: return Flow::Break;
    case StmtKind::Continue: return Flow::Continue;
    case StmtKind::Scope: return exec_list(s.body);
  }
  return Flow::Normal;
}

void Interp::exec_set(const Stmt& s) {
  Value v = eval(*s.expr);
  pos_ = s.pos;
  assign(*s.target, std::move(v), true);
}

void Interp::assign(const Expr& target, Value v, bool allow_namespace) {
  if (target.kind == ExprKind::Name) {
    scope_->set(target.name, std::move(v));
  } else if (target.kind == ExprKind::Tuple) {
    ValueList items = iterate(v);
    if (items.size() != target.args.size())
      fail(items.size() > target.args.size()
               ? "too many values to unpack (expected " + std::to_string(target.args.size()) + ")"
               : "not enough values to unpack (expected " + std::to_string(target.args.size()) + ", got " +
                     std::to_string(items.size()) + ")");
    for (size_t i = 0; i < items.size(); ++i) assign(*target.args[i], std::move(items[i]), false);
  } else if (target.kind == ExprKind::GetAttr && allow_namespace) {
    Value ns = lookup(target.args[0]->name);
    if (!ns.is_dict() || !ns.dict_obj().is_namespace) fail("cannot assign attribute on non-namespace object");
    ns.dict_ptr()->set(Value(target.name), std::move(v));
  } else {
    fail("cannot assign to this target");
  }
}

Interp::Flow Interp::exec_for(const Stmt& s) {
  Value seq = eval(*s.expr);
  ValueList all = iterate(seq);
  auto outer = scope_;
  if (s.cond) {  // `for x in xs if cond`: filter first, so loop.length/last see only kept items
    ValueList kept;
    for (auto& item : all) {
      auto probe = std::make_shared<Scope>();
      probe->parent = outer;
      scope_ = probe;
      try {
        assign(*s.target, item, false);
        if (eval(*s.cond).truthy()) kept.push_back(std::move(item));
      } catch (...) {
        scope_ = outer;
        throw;
      }
      scope_ = outer;
    }
    all = std::move(kept);
  }
  charge(all.size() * sizeof(Value));
  auto items = std::make_shared<const ValueList>(std::move(all));
  Flow result = Flow::Normal;
  for (size_t i = 0; i < items->size(); ++i) {
    if (++steps_ > limits_.max_steps) fail("template took too many steps");
    auto loop = std::make_shared<LoopObj>();
    loop->items = items;
    loop->index0 = i;
    auto iter_scope = std::make_shared<Scope>();
    iter_scope->parent = outer;
    scope_ = iter_scope;
    Flow f;
    try {
      iter_scope->set("loop", Value::loop(loop));
      pos_ = s.pos;
      assign(*s.target, (*items)[i], false);
      f = exec_list(s.body);
    } catch (...) {
      scope_ = outer;
      throw;
    }
    scope_ = outer;
    if (f == Flow::Break) break;
  }
  if (items->empty()) {
    auto else_scope = std::make_shared<Scope>();
    else_scope->parent = outer;
    scope_ = else_scope;
    try {
      result = exec_list(s.else_body);
    } catch (...) {
      scope_ = outer;
      throw;
    }
    scope_ = outer;
  }
  return result;
}

Value Interp::define_macro(const Stmt& s) {
  const Stmt* m = &s;
  std::weak_ptr<Scope> home = scope_;
  return Value::func(s.name, [m, home](Interp& in, CallArgs& args) -> Value {
    auto parent = home.lock();
    if (!parent) in.fail("macro '" + m->name + "' called after its scope ended");
    auto local = std::make_shared<Scope>();
    local->parent = parent;
    const size_t n = m->params.size();
    if (args.pos.size() > n && !m->uses_varargs)
      in.fail("macro '" + m->name + "' takes not more than " + std::to_string(n) + " argument(s)");
    auto saved = in.scope_;
    const size_t saved_pos = in.pos_;
    in.scope_ = local;
    try {
      Value kwargs = Value::dict();
      for (const auto& kv : args.kw) {
        bool is_param = false;
        for (const auto& p : m->params) is_param = is_param || p == kv.first;
        if (!is_param) {
          if (!m->uses_kwargs) in.fail("macro '" + m->name + "' takes no keyword argument '" + kv.first + "'");
          kwargs.dict_ptr()->set(Value(kv.first), kv.second);
        }
      }
      const size_t first_default = n - m->defaults.size();
      for (size_t i = 0; i < n; ++i) {
        const Value* given = args.get(i, m->params[i].c_str());
        if (given) local->set(m->params[i], *given);
        else if (i >= first_default) local->set(m->params[i], in.eval(*m->defaults[i - first_default]));
        else local->set(m->params[i], Value::undefined("parameter '" + m->params[i] + "' was not provided"));
      }
      ValueList extra;
      for (size_t i = n; i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
      local->set("varargs", Value::list(std::move(extra), true));
      local->set("kwargs", kwargs);
      std::string text = in.capture(m->body);
      in.scope_ = saved;
      in.pos_ = saved_pos;
      return Value(std::move(text));
    } catch (...) {
      in.scope_ = saved;
      throw;
    }
  });
}

// ---------------------------------------------------------------- expressions

Value Interp::lookup(const std::string& name) {
  for (Scope* s = scope_.get(); s; s = s->parent.get())
    if (Value* v = s->find(name)) return *v;
  return Value::undefined("'" + name + "' is undefined");
}

void Interp::eval_args(const Expr& e, size_t first, CallArgs& args) {
  for (size_t i = first; i < e.args.size(); ++i) args.pos.push_back(eval(*e.args[i]));
  for (const auto& kv : e.kwargs) args.kw.emplace_back(kv.first, eval(*kv.second));
}

Value Interp::eval(const Expr& e) {
  DepthGuard guard(*this);
  pos_ = e.pos;
  switch (e.kind) {
    case ExprKind::Const: return e.value;
    case ExprKind::Name: return lookup(e.name);
    case ExprKind::List:
    case ExprKind::Tuple: {
      ValueList items;
      items.reserve(e.args.size());
      for (const auto& a : e.args) items.push_back(eval(*a));
      return make_list(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      auto d = std::make_shared<DictObj>();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i]);
        if (k.is_list() && !k.list_obj().is_tuple) fail("unhashable type: 'list'");
        if (k.is_dict()) fail("unhashable type: 'dict'");
        d->set(k, eval(*e.args[i + 1]));
      }
      charge(d->items.size() * 2 * sizeof(Value));
      return Value::dict(std::move(d));
    }
    case ExprKind::GetAttr: {
      Value obj = eval(*e.args[0]);
      pos_ = e.pos;
      return getattr(obj, e.name);
    }
    case ExprKind::GetItem: {
      Value obj = eval(*e.args[0]);
      if (e.args[1]->kind == ExprKind::Slice) return eval_slice(obj, *e.args[1]);
      Value key = eval(*e.args[1]);
      pos_ = e.pos;
      return getitem(obj, key);
    }
    case ExprKind::Slice: fail("slice outside a subscript");
    case ExprKind::Call: return eval_call(e);
    case ExprKind::Filter: return eval_filter(e, nullptr);
    case ExprKind::Test: return eval_test(e);
    case ExprKind::Not: return Value(!eval(*e.args[0]).truthy());
    case ExprKind::Neg:
    case ExprKind::Pos: {
      Value v = eval(*e.args[0]);
      pos_ = e.pos;
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) fail("bad operand type for unary " + std::string(e.kind == ExprKind::Neg ? "-" : "+") + ": '" + v.type_name() + "'");
      if (e.kind == ExprKind::Pos) return v.is_bool() ? Value(v.as_int()) : v;
      if (v.is_float()) return Value(-v.as_double());
      if (v.as_int() == INT64_MIN) fail("integer overflow");
      return Value(-v.as_int());
    }
    case ExprKind::Binary: {
      Value a = eval(*e.args[0]);
      Value b = eval(*e.args[1]);
      pos_ = e.pos;
      return binop(e.name, a, b);
    }
    case ExprKind::Concat: {
      std::string s;
      for (const auto& a : e.args) {
        append_str(s, eval(*a));
        if (s.size() > limits_.max_string_bytes) fail("template built a string that is too large");
      }
      return make_string(std::move(s));
    }
    case ExprKind::Compare: {
      Value left = eval(*e.args[0]);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1]);
        pos_ = e.pos;
        if (!compare(e.ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::And: {
      Value a = eval(*e.args[0]);
      return a.truthy() ? eval(*e.args[1]) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.args[0]);
      return a.truthy() ? a : eval(*e.args[1]);
    }
    case ExprKind::Cond:
      if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
      if (e.args[2]) return eval(*e.args[2]);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
  }
  return Value();
}

Value Interp::eval_call(const Expr& e) {
  Value fn = eval(*e.args[0]);
  CallArgs args;
  eval_args(e, 1, args);
  pos_ = e.pos;
  return call(fn, args);
}

Value Interp::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) fail_undefined(fn);
  if (fn.is_loop()) fail("recursive loops are not supported");
  if (!fn.is_func()) fail("'" + fn.type_name() + "' object is not callable");
  return fn.func_obj().fn(*this, args);
}

Value Interp::eval_filter(const Expr& e, const Value* subject) {
  Value v = subject ? *subject : (e.args[0] ? eval(*e.args[0]) : Value());
  if (e.args[0] && subject) v = eval_filter(*e.args[0], subject);  // filter-block chains
  CallArgs args;
  eval_args(e, 1, args);
  pos_ = e.pos;
  return apply_filter(*this, e.name, v, args);
}

Value Interp::eval_test(const Expr& e) {
  Value v = eval(*e.args[0]);
  CallArgs args;
  eval_args(e, 1, args);
  pos_ = e.pos;
  return Value(apply_test(*this, e.name, v, args));
}

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
  if (step == 0) fail("slice step cannot be zero");
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
  fail("'" + obj.type_name() + "' object is not subscriptable");
}

bool Interp::compare(const std::string& op, const Value& a, const Value& b) {
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
  fail("unknown comparison " + op);
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
    case Value::Type::Dict: return container.dict_obj().find(item) != nullptr;
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
      for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        utf8::decode(s, i);
        chars.emplace_back(s.substr(start, i - start));
      }
      charge(chars.size() * sizeof(Value));
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
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  const char o = op[0];
  if (a.is_number() && b.is_number()) {
    const bool as_float = a.is_float() || b.is_float() || op == "/";
    if (op == "**") {
      if (!as_float && b.as_int() >= 0) {
        int64_t result = 1, base = a.as_int(), e = b.as_int();
        while (e > 0) {
          if ((e & 1) && __builtin_mul_overflow(result, base, &result)) fail("integer overflow");
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) fail("integer overflow");
        }
        return Value(result);
      }
      if (a.as_double() == 0.0 && b.as_double() < 0) fail("0.0 cannot be raised to a negative power");
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
            if (y == 0) fail("float floor division by zero");
            return Value(std::floor(x / y));
          }
          if (y == 0) fail("division by zero");
          return Value(x / y);
        case '%': {
          if (y == 0) fail("float modulo");
          double r = std::fmod(x, y);
          if (r != 0 && ((r < 0) != (y < 0))) r += y;
          return Value(r);
        }
      }
    } else {
      const int64_t x = a.as_int(), y = b.as_int();
      int64_t r = 0;
      switch (o) {
        case '+':
          if (__builtin_add_overflow(x, y, &r)) fail("integer overflow");
          return Value(r);
        case '-':
          if (__builtin_sub_overflow(x, y, &r)) fail("integer overflow");
          return Value(r);
        case '*':
          if (__builtin_mul_overflow(x, y, &r)) fail("integer overflow");
          return Value(r);
        case '/':
          if (y == 0) fail("integer division or modulo by zero");
          if (x == INT64_MIN && y == -1) fail("integer overflow");
          return Value(floor_div(x, y));
        case '%':
          if (y == 0) fail("integer division or modulo by zero");
          if (y == -1) return Value(int64_t{0});
          return Value(floor_mod(x, y));
      }
    }
  }
  if (o == '+' && a.is_string() && b.is_string()) {
    if (a.str().size() + b.str().size() > limits_.max_string_bytes) fail("template built a string that is too large");
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
        fail("template built a string that is too large");
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
      fail("template built too much data");
    ValueList items;
    for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq.items().begin(), seq.items().end());
    return make_list(std::move(items), seq.list_obj().is_tuple);
  }
  if (o == '%' && a.is_string()) return make_string(format_percent(*this, a.str(), b));
  fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

}  // namespace nagare::jinja
