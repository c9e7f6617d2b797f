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
  if (++in.depth_ > in.limits_.max_depth) in.fail(ChatErrorKind::Limit, "template recursion too deep");
  if (++in.steps_ > in.limits_.max_steps) in.fail(ChatErrorKind::Limit, "template took too many steps");
}

void Interp::fail(ChatErrorKind kind, const std::string& message) const { throw RenderError{message, pos_, kind}; }

void Interp::charge(uint64_t bytes) {
  allocated_ += bytes;
  if (allocated_ > limits_.max_alloc_bytes) fail(ChatErrorKind::Limit, "template built too much data");
}

void Interp::work(uint64_t steps) {
  if (fold_mode_) return;  // constant folding stays as it was: where it folds is observable
  steps_ += steps;
  if (steps_ > limits_.max_steps) fail(ChatErrorKind::Limit, "template took too many steps");
}

Value Interp::make_string(std::string s) {
  if (s.size() > limits_.max_string_bytes) fail(ChatErrorKind::Limit, "template built a string that is too large");
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
  if (out_->size() > limits_.max_string_bytes) fail(ChatErrorKind::Limit, "template output is too large");
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

// Renders `body` in a child scope: {% set %} inside a set block, filter block or call block stays
// local to it, as in jinja2.
std::string Interp::capture_scoped(const StmtList& body) {
  auto saved = scope_;
  auto inner = std::make_shared<Scope>();
  inner->parent = saved;
  scope_ = inner;
  std::string text;
  try {
    text = capture(body);
  } catch (...) {
    scope_ = saved;
    throw;
  }
  scope_ = saved;
  return text;
}

Interp::Flow Interp::exec(const Stmt& s) {
  DepthGuard guard(*this);
  pos_ = s.pos;
  switch (s.kind) {
    case StmtKind::Data:
      out_->append(s.text);
      if (out_->size() > limits_.max_string_bytes) fail(ChatErrorKind::Limit, "template output is too large");
      return Flow::Normal;
    case StmtKind::Output: write(eval(*s.expr)); return Flow::Normal;
    case StmtKind::If:
      for (const auto& b : s.branches)
        if (eval(*b.first).truthy()) return exec_list(b.second);
      return exec_list(s.else_body);
    case StmtKind::For: return exec_for(s);
    case StmtKind::Set: exec_set(s); return Flow::Normal;
    case StmtKind::SetBlock: {
      Value v = make_string(capture_scoped(s.body));
      if (s.expr) v = eval_filter(*s.expr, &v);
      pos_ = s.pos;
      assign(*s.target, std::move(v), true);
      return Flow::Normal;
    }
    case StmtKind::Macro: scope_->set(s.name, define_macro(s)); return Flow::Normal;
    case StmtKind::FilterBlock: {
      Value v = make_string(capture_scoped(s.body));
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
    case StmtKind::Scope: {  // HF's {% generation %} is a call block: its body is a macro
      std::string text = capture_scoped(s.body);
      out_->append(text);
      if (out_->size() > limits_.max_string_bytes) fail(ChatErrorKind::Limit, "template output is too large");
      return Flow::Normal;
    }
  }
  return Flow::Normal;
}

void Interp::exec_set(const Stmt& s) {
  // jinja2 checks a `set ns.attr = ...` target before it evaluates the value (a block set after).
  if (s.target->kind == ExprKind::GetAttr) {
    pos_ = s.pos;
    check_namespace(lookup(s.target->args[0]->name));
  }
  Value v = eval(*s.expr);
  pos_ = s.pos;
  assign(*s.target, std::move(v), true);
}

void Interp::check_namespace(const Value& ns) {
  if (!ns.is_dict() || !ns.dict_obj().is_namespace)
    fail(ChatErrorKind::Runtime, "cannot assign attribute on non-namespace object");
}

void Interp::assign(const Expr& target, Value v, bool allow_namespace) {
  if (target.kind == ExprKind::Name) {
    scope_->set(target.name, std::move(v));
  } else if (target.kind == ExprKind::Tuple) {
    ValueList items = iterate(v);
    if (items.size() != target.args.size())
      fail(ChatErrorKind::Value, items.size() > target.args.size()
               ? "too many values to unpack (expected " + std::to_string(target.args.size()) + ")"
               : "not enough values to unpack (expected " + std::to_string(target.args.size()) + ", got " +
                     std::to_string(items.size()) + ")");
    for (size_t i = 0; i < items.size(); ++i) assign(*target.args[i], std::move(items[i]), false);
  } else if (target.kind == ExprKind::GetAttr && allow_namespace) {
    Value ns = lookup(target.args[0]->name);
    check_namespace(ns);
    ns.dict_ptr()->set(Value(target.name), std::move(v));
  } else {
    fail(ChatErrorKind::Runtime, "cannot assign to this target");
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
    if (++steps_ > limits_.max_steps) fail(ChatErrorKind::Limit, "template took too many steps");
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
    if (!parent) in.fail(ChatErrorKind::Runtime, "macro '" + m->name + "' called after its scope ended");
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

// A step may scan the values it is given (`in`, length, comparisons, string methods, filters):
// each value an expression yields costs a step per 128 bytes or 64 items (and iterate() a step
// per 2 items), so that max_steps bounds the run time also when every step handles a 64 MiB
// string (tests/unit/chat/fuzz_regressions_test.cc).
Value Interp::eval(const Expr& e) {
  Value v = eval_node(e);
  if (v.is_string()) work(v.str().size() / 128);
  else if (v.is_list()) work(v.items().size() / 64);
  else if (v.is_dict()) work(v.dict_obj().items.size() / 64);
  return v;
}

Value Interp::eval_node(const Expr& e) {
  DepthGuard guard(*this);
  pos_ = e.pos;
  switch (e.kind) {
    case ExprKind::Const: return e.value;
    case ExprKind::Name:
      if (fold_mode_) throw Impossible{};
      return lookup(e.name);
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
    case ExprKind::Slice: fail(ChatErrorKind::Syntax, "slice outside a subscript");
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
      if (v.as_int() == INT64_MIN) fail(ChatErrorKind::Overflow, "integer overflow");
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
        if (s.size() > limits_.max_string_bytes) fail(ChatErrorKind::Limit, "template built a string that is too large");
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
  if (fold_mode_) throw Impossible{};
  Value fn = eval(*e.args[0]);
  CallArgs args;
  eval_args(e, 1, args);
  pos_ = e.pos;
  return call(fn, args);
}

Value Interp::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) fail_undefined(fn);
  if (fn.is_loop()) fail(ChatErrorKind::Unsupported, "recursive loops are not supported");
  if (!fn.is_func()) fail("'" + fn.type_name() + "' object is not callable");
  return fn.func_obj().fn(*this, args);
}

Value Interp::eval_filter(const Expr& e, const Value* subject) {
  if (fold_mode_) {  // jinja2 cannot fold filters that take the context, nor filter blocks
    if (!e.args[0]) throw Impossible{};
    for (const char* ctx : {"map", "select", "reject", "selectattr", "rejectattr"})
      if (e.name == ctx) throw Impossible{};
  }
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

// ---------------------------------------------------------------- constant folding

namespace {

// jinja2's has_safe_repr: which folded values its optimizer may embed as constants.
bool has_safe_repr(const Value& v) {
  switch (v.type()) {
    case Value::Type::None:
    case Value::Type::Bool:
    case Value::Type::Int:
    case Value::Type::Float:
    case Value::Type::String: return true;
    case Value::Type::List:
      if (v.is_lazy()) return false;
      for (const Value& x : v.items())
        if (!has_safe_repr(x)) return false;
      return true;
    case Value::Type::Dict:
      if (v.dict_obj().is_namespace) return false;
      for (const auto& kv : v.dict_obj().items)
        if (!has_safe_repr(kv.first) || !has_safe_repr(kv.second)) return false;
      return true;
    default: return false;
  }
}

}  // namespace

bool Interp::try_fold(Expr& e, bool output_root, Value& out) {
  if (e.kind == ExprKind::Const || e.kind == ExprKind::Slice) return false;
  if (steps_ > limits_.max_steps) return false;  // folding budget spent: leave the rest to run time
  try {
    out = eval(e);
  } catch (const Impossible&) {
    return false;
  } catch (const RenderError&) {
    return false;  // the error, if any, happens again at run time
  }
  return output_root || has_safe_repr(out);
}

void Interp::fold(ExprPtr& e, bool output_root) {
  if (!e) return;
  for (auto& a : e->args) fold(a, false);
  for (auto& kv : e->kwargs) fold(kv.second, false);
  Value v;
  allocated_ = 0;
  if (!try_fold(*e, output_root, v)) return;
  auto c = std::make_unique<Expr>();
  c->kind = ExprKind::Const;
  c->pos = e->pos;
  // A folded {{ }} is stored as its text, as jinja2 does; so no shared constant can hold state
  // that rendering changes (a generator's consumed flag), and the template stays thread-safe.
  c->value = output_root ? Value(to_str(v)) : std::move(v);
  e = std::move(c);
}

void Interp::fold(StmtList& body) {
  for (auto& s : body) {
    fold(s->expr, s->kind == StmtKind::Output);
    fold(s->cond, false);
    for (auto& b : s->branches) {
      fold(b.first, false);
      fold(b.second);
    }
    for (auto& a : s->assigns) fold(a.second, false);
    for (auto& d : s->defaults) fold(d, false);
    fold(s->body);
    fold(s->else_body);
  }
}

void fold_constants(StmtList& body) {
  Limits limits;
  limits.max_steps = 1'000'000;          // for all folding together
  limits.max_alloc_bytes = 16u << 20;    // per folded expression
  limits.max_string_bytes = 1u << 20;
  Interp folder(limits, std::nullopt);
  folder.fold_mode_ = true;
  folder.fold(body);
}

}  // namespace nagare::jinja
