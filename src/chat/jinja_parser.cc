// Recursive-descent parser mirroring jinja2's Parser (see jinja_parser.h).
#include "chat/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

namespace nagare::jinja {
namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Data: return "template data";
    case Tok::VarBegin: return "begin of print statement";
    case Tok::VarEnd: return "end of print statement";
    case Tok::BlockBegin: return "begin of statement block";
    case Tok::BlockEnd: return "end of statement block";
    case Tok::String: return "string";
    case Tok::Int: return "integer";
    case Tok::Float: return "float";
    case Tok::Eof: return "end of template";
    default: return t.text;
  }
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

  StmtList run() {
    StmtList body = subparse({});
    if (cur().type != Tok::Eof) fail("unexpected '" + describe(cur()) + "'");
    check_names(body, false);
    return body;
  }

 private:
  const std::vector<Token>& t_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxSyntaxDepth) p.fail("template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  void advance() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(const char* kw) const { return cur().type == Tok::Name && cur().text == kw; }
  [[noreturn]] void fail(const std::string& msg) const { throw SyntaxError{msg, cur().pos}; }
  [[noreturn]] void fail_at(const std::string& msg, size_t pos) const { throw SyntaxError{msg, pos}; }

  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected token '") + op + "', got '" + describe(cur()) + "'");
    advance();
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) fail("expected token 'name', got '" + describe(cur()) + "'");
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd)
      fail("expected token 'end of statement block', got '" + describe(cur()) + "'");
    advance();
  }
  void expect_keyword(const char* kw) {
    if (!is_name(kw)) fail(std::string("expected token '") + kw + "', got '" + describe(cur()) + "'");
    advance();
  }

  ExprPtr node(ExprKind kind, size_t pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }
  // Finishes a node: its height bounds the evaluator's recursion.
  ExprPtr done(ExprPtr e) {
    int h = 0;
    for (const auto& a : e->args)
      if (a) h = std::max(h, a->height);
    for (const auto& kv : e->kwargs) h = std::max(h, kv.second->height);
    e->height = h + 1;
    if (e->height > kMaxSyntaxDepth) fail_at("expression nested too deeply", e->pos);
    return e;
  }

  // ---- statements ----

  StmtList subparse(std::initializer_list<const char*> end_tokens) {
    StmtList body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Data;
        s->pos = t.pos;
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
      } else if (t.type == Tok::VarBegin) {
        advance();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Output;
        s->pos = t.pos;
        s->expr = parse_tuple(false, true, {}, false);
        if (cur().type != Tok::VarEnd)
          fail("expected token 'end of print statement', got '" + describe(cur()) + "'");
        advance();
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        advance();
        if (cur().type == Tok::Name)
          for (const char* e : end_tokens)
            if (cur().text == e) return body;
        body.push_back(parse_statement());
      } else if (t.type == Tok::Eof) {
        if (end_tokens.size() != 0) {
          std::string want;
          for (const char* e : end_tokens) want += (want.empty() ? "'" : " or '") + std::string(e) + "'";
          fail("Unexpected end of template. Jinja was looking for the following tags: " + want + ".");
        }
        return body;
      } else {
        fail("unexpected '" + describe(t) + "'");
      }
    }
  }

  // After a statement header: optional ':' then '%}', then the body up to one of end_tokens
  // (left as the current token).
  StmtList parse_body(std::initializer_list<const char*> end_tokens) {
    if (is_op(":")) advance();
    expect_block_end();
    return subparse(end_tokens);
  }

  StmtPtr parse_statement() {
    DepthGuard guard(*this);
    if (cur().type != Tok::Name) fail("tag name expected");
    const std::string kw = cur().text;
    auto s = std::make_unique<Stmt>();
    s->pos = cur().pos;
    advance();
    if (kw == "if") return parse_if(std::move(s));
    if (kw == "for") return parse_for(std::move(s));
    if (kw == "set") return parse_set(std::move(s));
    if (kw == "macro") return parse_macro(std::move(s));
    if (kw == "filter") {
      s->kind = StmtKind::FilterBlock;
      s->expr = parse_filter(nullptr, true);
      s->body = parse_body({"endfilter"});
      advance();
    } else if (kw == "with") {
      s->kind = StmtKind::With;
      while (cur().type != Tok::BlockEnd) {
        if (!s->assigns.empty()) expect_op(",");
        ExprPtr target = parse_assign_target(false, {});
        expect_op("=");
        s->assigns.emplace_back(std::move(target), parse_expression(true));
      }
      s->body = parse_body({"endwith"});
      advance();
    } else if (kw == "break" || kw == "continue") {
      if (loop_depth_ == 0) fail_at("'" + kw + "' outside loop", s->pos);
      s->kind = kw == "break" ? StmtKind::Break : StmtKind::Continue;
    } else if (kw == "generation") {
      s->kind = StmtKind::Scope;
      s->body = parse_body({"endgeneration"});
      advance();
    } else if (kw == "print") {
      s->kind = StmtKind::Output;
      s->expr = parse_tuple(false, true, {}, false);
    } else {
      fail_at("Encountered unknown tag '" + kw + "'.", s->pos);
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_if(StmtPtr s) {
    s->kind = StmtKind::If;
    while (true) {
      ExprPtr test = parse_tuple(false, false, {}, false);
      StmtList body = parse_body({"elif", "else", "endif"});
      s->branches.emplace_back(std::move(test), std::move(body));
      const std::string tok = cur().text;
      advance();
      if (tok == "elif") continue;
      if (tok == "else") {
        s->else_body = parse_body({"endif"});
        advance();
      }
      break;
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_for(StmtPtr s) {
    s->kind = StmtKind::For;
    s->target = parse_assign_target(true, {"in"});
    expect_keyword("in");
    s->expr = parse_tuple(false, false, {"recursive"}, false);
    if (is_name("if")) {
      advance();
      s->cond = parse_expression(true);
    }
    if (is_name("recursive")) fail("recursive loops are not supported");
    ++loop_depth_;
    s->body = parse_body({"endfor", "else"});
    --loop_depth_;
    if (cur().text == "else") {
      advance();
      s->else_body = parse_body({"endfor"});
    }
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(StmtPtr s) {
    if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "." &&
        peek(2).type == Tok::Name) {
      auto ns = node(ExprKind::Name, cur().pos);
      ns->name = cur().text;
      auto attr = node(ExprKind::GetAttr, peek(1).pos);
      attr->name = peek(2).text;
      attr->args.push_back(done(std::move(ns)));
      s->target = done(std::move(attr));
      advance(), advance(), advance();
    } else {
      s->target = parse_assign_target(true, {});
    }
    if (is_op("=")) {
      advance();
      s->kind = StmtKind::Set;
      s->expr = parse_tuple(false, true, {}, false);
      expect_block_end();
      return s;
    }
    s->kind = StmtKind::SetBlock;
    if (is_op("|")) s->expr = parse_filter(nullptr, false);
    s->body = parse_body({"endset"});
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro(StmtPtr s) {
    s->kind = StmtKind::Macro;
    s->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      s->params.push_back(expect_name());
      if (is_op("=")) {
        advance();
        s->defaults.push_back(parse_expression(true));
      } else if (!s->defaults.empty()) {
        fail("non-default argument follows default argument");
      }
    }
    advance();
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_body({"endmacro"});
    loop_depth_ = saved_loops;
    advance();
    expect_block_end();
    s->uses_varargs = mentions(s->body, "varargs");
    s->uses_kwargs = mentions(s->body, "kwargs");
    return s;
  }

  // Name, or a tuple of names (for / set / with targets).
  ExprPtr parse_assign_target(bool with_tuple, std::initializer_list<const char*> extra_end) {
    ExprPtr target = with_tuple ? parse_tuple(true, false, extra_end, false) : parse_primary();
    auto assignable = [](const Expr& e) { return e.kind == ExprKind::Name; };
    bool ok = assignable(*target);
    if (target->kind == ExprKind::Tuple) {
      ok = true;
      for (const auto& a : target->args) ok = ok && assignable(*a);
    }
    if (!ok) fail_at("can't assign to '" + std::string(target->kind == ExprKind::Const ? "literal" : "expression") + "'", target->pos);
    for (const char* reserved : {"true", "false", "none", "True", "False", "None"})
      if (target->kind == ExprKind::Name && target->name == reserved)
        fail_at("can't assign to '" + target->name + "'", target->pos);
    return target;
  }

  // ---- expressions ----

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<const char*> extra_end,
                      bool explicit_parens) {
    const size_t pos = cur().pos;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      args.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail("Expected an expression, got '" + describe(cur()) + "'");
    }
    auto t = node(ExprKind::Tuple, pos);
    t->args = std::move(args);
    return done(std::move(t));
  }

  bool is_tuple_end(std::initializer_list<const char*> extra_end) const {
    if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof || is_op(")"))
      return true;
    for (const char* e : extra_end)
      if (is_name(e)) return true;
    return false;
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    DepthGuard guard(*this);
    ExprPtr expr1 = parse_or();
    while (is_name("if")) {
      const size_t pos = cur().pos;
      advance();
      ExprPtr test = parse_or();
      ExprPtr other;
      if (is_name("else")) {
        advance();
        other = parse_condexpr();
      }
      auto c = node(ExprKind::Cond, pos);
      c->args.push_back(std::move(expr1));
      c->args.push_back(std::move(test));
      c->args.push_back(std::move(other));
      expr1 = done(std::move(c));
    }
    return expr1;
  }

  ExprPtr binary(ExprKind kind, ExprPtr a, ExprPtr b, size_t pos, std::string name = {}) {
    auto e = node(kind, pos);
    e->name = std::move(name);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return done(std::move(e));
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const size_t pos = cur().pos;
      advance();
      left = binary(ExprKind::Or, std::move(left), parse_and(), pos);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const size_t pos = cur().pos;
      advance();
      left = binary(ExprKind::And, std::move(left), parse_not(), pos);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto n = node(ExprKind::Not, cur().pos);
      advance();
      n->args.push_back(parse_not());
      return done(std::move(n));
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const size_t pos = cur().pos;
    ExprPtr expr = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                    cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        op = "notin";
        advance(), advance();
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(ExprKind::Compare, pos);
        cmp->args.push_back(std::move(expr));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? done(std::move(cmp)) : std::move(expr);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = cur().text;
      const size_t pos = cur().pos;
      advance();
      left = binary(ExprKind::Binary, std::move(left), parse_concat(), pos, op);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto c = node(ExprKind::Concat, cur().pos);
    c->args.push_back(std::move(first));
    while (is_op("~")) {
      advance();
      c->args.push_back(parse_math2());
    }
    return done(std::move(c));
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = cur().text;
      const size_t pos = cur().pos;
      advance();
      left = binary(ExprKind::Binary, std::move(left), parse_pow(), pos, op);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const size_t pos = cur().pos;
      advance();
      left = binary(ExprKind::Binary, std::move(left), parse_unary(true), pos, "**");
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr n;
    if (is_op("-") || is_op("+")) {
      n = node(is_op("-") ? ExprKind::Neg : ExprKind::Pos, cur().pos);
      advance();
      n->args.push_back(parse_unary(false));
      n = done(std::move(n));
    } else {
      n = parse_primary();
    }
    n = parse_postfix(std::move(n));
    if (with_filter) n = parse_filter_expr(std::move(n));
    return n;
  }

  ExprPtr parse_primary() {
    DepthGuard guard(*this);
    const Token& t = cur();
    ExprPtr n;
    if (t.type == Tok::Name) {
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        n = node(ExprKind::Const, t.pos);
        n->value = Value(t.text[0] == 't' || t.text[0] == 'T');
      } else if (t.text == "none" || t.text == "None") {
        n = node(ExprKind::Const, t.pos);
        n->value = Value::none();
      } else {
        n = node(ExprKind::Name, t.pos);
        n->name = t.text;
      }
      advance();
    } else if (t.type == Tok::String) {
      n = node(ExprKind::Const, t.pos);
      std::string s;
      while (cur().type == Tok::String) {
        s += cur().text;
        advance();
      }
      n->value = Value(std::move(s));
    } else if (t.type == Tok::Int || t.type == Tok::Float) {
      n = node(ExprKind::Const, t.pos);
      n->value = t.type == Tok::Int ? Value(t.ival) : Value(t.fval);
      advance();
    } else if (is_op("(")) {
      advance();
      n = parse_tuple(false, true, {}, true);
      expect_op(")");
      return n;
    } else if (is_op("[")) {
      n = node(ExprKind::List, t.pos);
      advance();
      while (!is_op("]")) {
        if (!n->args.empty()) {
          expect_op(",");
          if (is_op("]")) break;
        }
        n->args.push_back(parse_expression(true));
      }
      expect_op("]");
    } else if (is_op("{")) {
      n = node(ExprKind::Dict, t.pos);
      advance();
      while (!is_op("}")) {
        if (!n->args.empty()) {
          expect_op(",");
          if (is_op("}")) break;
        }
        n->args.push_back(parse_expression(true));
        expect_op(":");
        n->args.push_back(parse_expression(true));
      }
      expect_op("}");
    } else {
      fail("unexpected '" + describe(t) + "'");
    }
    return done(std::move(n));
  }

  ExprPtr parse_postfix(ExprPtr n) {
    while (true) {
      if (is_op(".") || is_op("[")) n = parse_subscript(std::move(n));
      else if (is_op("(")) n = parse_call(std::move(n));
      else return n;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr n) {
    while (true) {
      if (is_op("|")) n = parse_filter(std::move(n), false);
      else if (is_name("is")) n = parse_test(std::move(n));
      else if (is_op("(")) n = parse_call(std::move(n));
      else return n;
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    const size_t pos = cur().pos;
    if (is_op(".")) {
      advance();
      if (cur().type == Tok::Name) {
        auto g = node(ExprKind::GetAttr, pos);
        g->name = cur().text;
        g->args.push_back(std::move(obj));
        advance();
        return done(std::move(g));
      }
      if (cur().type != Tok::Int) fail("expected name or number");
      auto idx = node(ExprKind::Const, cur().pos);
      idx->value = Value(cur().ival);
      advance();
      auto g = node(ExprKind::GetItem, pos);
      g->args.push_back(std::move(obj));
      g->args.push_back(done(std::move(idx)));
      return done(std::move(g));
    }
    advance();  // '['
    std::vector<ExprPtr> subs;
    while (!is_op("]")) {
      if (!subs.empty()) expect_op(",");
      subs.push_back(parse_subscribed());
    }
    expect_op("]");
    if (subs.empty()) fail_at("expected subscript expression", pos);
    ExprPtr index;
    if (subs.size() == 1) {
      index = std::move(subs[0]);
    } else {
      index = node(ExprKind::Tuple, pos);
      index->args = std::move(subs);
      index = done(std::move(index));
    }
    auto g = node(ExprKind::GetItem, pos);
    g->args.push_back(std::move(obj));
    g->args.push_back(std::move(index));
    return done(std::move(g));
  }

  ExprPtr parse_subscribed() {
    const size_t pos = cur().pos;
    std::vector<ExprPtr> parts;
    if (is_op(":")) {
      advance();
      parts.push_back(nullptr);
    } else {
      ExprPtr e = parse_expression(true);
      if (!is_op(":")) return e;
      advance();
      parts.push_back(std::move(e));
    }
    if (is_op(":") || is_op("]") || is_op(",")) parts.push_back(nullptr);
    else parts.push_back(parse_expression(true));
    if (is_op(":")) {
      advance();
      if (is_op("]") || is_op(",")) parts.push_back(nullptr);
      else parts.push_back(parse_expression(true));
    } else {
      parts.push_back(nullptr);
    }
    auto s = node(ExprKind::Slice, pos);
    s->args = std::move(parts);
    return done(std::move(s));
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    bool need_comma = false;
    while (!is_op(")")) {
      if (need_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
        std::string key = cur().text;
        advance(), advance();
        e.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.kwargs.empty()) fail("positional argument follows keyword argument");
        e.args.push_back(parse_expression(true));
      }
      need_comma = true;
    }
    advance();
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto c = node(ExprKind::Call, cur().pos);
    c->args.push_back(std::move(callee));
    parse_call_args(*c);
    return done(std::move(c));
  }

  ExprPtr parse_filter(ExprPtr subject, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) advance();
      start_inline = false;
      auto f = node(ExprKind::Filter, cur().pos);
      f->name = expect_name();
      while (is_op(".")) {
        advance();
        f->name += "." + expect_name();
      }
      f->args.push_back(std::move(subject));
      if (is_op("(")) parse_call_args(*f);
      subject = done(std::move(f));
    }
    return subject;
  }

  ExprPtr parse_test(ExprPtr subject) {
    auto t = node(ExprKind::Test, cur().pos);
    advance();  // 'is'
    bool negated = false;
    if (is_name("not")) {
      advance();
      negated = true;
    }
    t->name = expect_name();
    while (is_op(".")) {
      advance();
      t->name += "." + expect_name();
    }
    t->args.push_back(std::move(subject));
    const Tok ty = cur().type;
    if (is_op("(")) {
      parse_call_args(*t);
    } else if ((ty == Tok::Name || ty == Tok::String || ty == Tok::Int || ty == Tok::Float ||
                is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      t->args.push_back(parse_postfix(parse_primary()));
    }
    ExprPtr result = done(std::move(t));
    if (negated) {
      auto n = node(ExprKind::Not, result->pos);
      n->args.push_back(std::move(result));
      result = done(std::move(n));
    }
    return result;
  }

  // ---- checks after parsing ----

  static bool mentions(const Expr* e, const char* name) {
    if (!e) return false;
    if (e->kind == ExprKind::Name && e->name == name) return true;
    for (const auto& a : e->args)
      if (mentions(a.get(), name)) return true;
    for (const auto& kv : e->kwargs)
      if (mentions(kv.second.get(), name)) return true;
    return false;
  }
  static bool mentions(const StmtList& body, const char* name) {
    for (const auto& s : body) {
      if (mentions(s->expr.get(), name) || mentions(s->cond.get(), name) ||
          mentions(s->body, name) || mentions(s->else_body, name))
        return true;
      for (const auto& b : s->branches)
        if (mentions(b.first.get(), name) || mentions(b.second, name)) return true;
      for (const auto& a : s->assigns)
        if (mentions(a.second.get(), name)) return true;
      for (const auto& d : s->defaults)
        if (mentions(d.get(), name)) return true;
    }
    return false;
  }

  // jinja2 rejects unknown filters and tests at compile time, except under {% if %} or a
  // conditional expression, where the error waits until the filter is actually used.
  void check_names(Expr* e, bool soft) {
    if (!e) return;
    if (e->kind == ExprKind::Cond) soft = true;
    if (e->kind == ExprKind::Filter || e->kind == ExprKind::Test) {
      e->soft = soft;
      const bool known = e->kind == ExprKind::Filter ? is_known_filter(e->name) : is_known_test(e->name);
      if (!known && !soft)
        fail_at(std::string("No ") + (e->kind == ExprKind::Filter ? "filter" : "test") + " named '" +
                    e->name + "'.",
                e->pos);
    }
    for (auto& a : e->args) check_names(a.get(), soft);
    for (auto& kv : e->kwargs) check_names(kv.second.get(), soft);
  }
  void check_names(StmtList& body, bool soft) {
    for (auto& s : body) {
      const bool inner = soft || s->kind == StmtKind::If;
      check_names(s->expr.get(), inner);
      check_names(s->target.get(), inner);
      check_names(s->cond.get(), inner);
      check_names(s->body, inner);
      check_names(s->else_body, inner);
      for (auto& b : s->branches) {
        check_names(b.first.get(), inner);
        check_names(b.second, inner);
      }
      for (auto& a : s->assigns) check_names(a.second.get(), inner);
      for (auto& d : s->defaults) check_names(d.get(), inner);
    }
  }
};

}  // namespace

StmtList parse_template(const std::string& src) {
  const std::vector<Token> tokens = tokenize(src);
  return Parser(tokens).run();
}

}  // namespace nagare::jinja
