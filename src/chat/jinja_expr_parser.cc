// Expression half of the parser: jinja2's precedence levels from the conditional expression down
// to primaries, postfix subscripts, calls, filters and tests.
#include <algorithm>

#include "chat/jinja_parser_impl.h"

namespace nagare::jinja {

void Parser::expect_op(const char* op) {
  if (!is_op(op)) fail(std::string("expected token '") + op + "', got '" + describe(cur()) + "'");
  advance();
}

std::string Parser::expect_name() {
  if (cur().type != Tok::Name) fail("expected token 'name', got '" + describe(cur()) + "'");
  std::string n = cur().text;
  advance();
  return n;
}

void Parser::expect_block_end() {
  if (cur().type != Tok::BlockEnd)
    fail("expected token 'end of statement block', got '" + describe(cur()) + "'");
  advance();
}

void Parser::expect_keyword(const char* kw) {
  if (!is_name(kw)) fail(std::string("expected token '") + kw + "', got '" + describe(cur()) + "'");
  advance();
}

ExprPtr Parser::node(ExprKind kind, size_t pos) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->pos = pos;
  return e;
}

// Finishes a node: its height bounds the evaluator's recursion.
ExprPtr Parser::done(ExprPtr e) {
  int h = 0;
  for (const auto& a : e->args)
    if (a) h = std::max(h, a->height);
  for (const auto& kv : e->kwargs) h = std::max(h, kv.second->height);
  e->height = h + 1;
  if (e->height > kMaxSyntaxDepth) fail_at("expression nested too deeply", e->pos);
  return e;
}

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<const char*> extra_end,
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

bool Parser::is_tuple_end(std::initializer_list<const char*> extra_end) const {
  if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof || is_op(")"))
    return true;
  for (const char* e : extra_end)
    if (is_name(e)) return true;
  return false;
}

ExprPtr Parser::parse_condexpr() {
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

ExprPtr Parser::binary(ExprKind kind, ExprPtr a, ExprPtr b, size_t pos, std::string name) {
  auto e = node(kind, pos);
  e->name = std::move(name);
  e->args.push_back(std::move(a));
  e->args.push_back(std::move(b));
  return done(std::move(e));
}

ExprPtr Parser::parse_or() {
  ExprPtr left = parse_and();
  while (is_name("or")) {
    const size_t pos = cur().pos;
    advance();
    left = binary(ExprKind::Or, std::move(left), parse_and(), pos);
  }
  return left;
}

ExprPtr Parser::parse_and() {
  ExprPtr left = parse_not();
  while (is_name("and")) {
    const size_t pos = cur().pos;
    advance();
    left = binary(ExprKind::And, std::move(left), parse_not(), pos);
  }
  return left;
}

ExprPtr Parser::parse_not() {
  if (is_name("not")) {
    DepthGuard guard(*this);
    auto n = node(ExprKind::Not, cur().pos);
    advance();
    n->args.push_back(parse_not());
    return done(std::move(n));
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
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

ExprPtr Parser::parse_math1() {
  ExprPtr left = parse_concat();
  while (is_op("+") || is_op("-")) {
    const std::string op = cur().text;
    const size_t pos = cur().pos;
    advance();
    left = binary(ExprKind::Binary, std::move(left), parse_concat(), pos, op);
  }
  return left;
}

ExprPtr Parser::parse_concat() {
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

ExprPtr Parser::parse_math2() {
  ExprPtr left = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const std::string op = cur().text;
    const size_t pos = cur().pos;
    advance();
    left = binary(ExprKind::Binary, std::move(left), parse_pow(), pos, op);
  }
  return left;
}

ExprPtr Parser::parse_pow() {
  ExprPtr left = parse_unary(true);
  while (is_op("**")) {
    const size_t pos = cur().pos;
    advance();
    left = binary(ExprKind::Binary, std::move(left), parse_unary(true), pos, "**");
  }
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
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

ExprPtr Parser::parse_primary() {
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

ExprPtr Parser::parse_postfix(ExprPtr n) {
  while (true) {
    if (is_op(".") || is_op("[")) n = parse_subscript(std::move(n));
    else if (is_op("(")) n = parse_call(std::move(n));
    else return n;
  }
}

ExprPtr Parser::parse_filter_expr(ExprPtr n) {
  while (true) {
    if (is_op("|")) n = parse_filter(std::move(n), false);
    else if (is_name("is")) n = parse_test(std::move(n));
    else if (is_op("(")) n = parse_call(std::move(n));
    else return n;
  }
}

ExprPtr Parser::parse_subscript(ExprPtr obj) {
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

ExprPtr Parser::parse_subscribed() {
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

void Parser::parse_call_args(Expr& e) {
  expect_op("(");
  bool need_comma = false;
  while (!is_op(")")) {
    if (need_comma) {
      expect_op(",");
      if (is_op(")")) break;
    }
    if (is_op("*") || is_op("**")) fail_unsupported("*args and **kwargs in calls are not supported");
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

ExprPtr Parser::parse_call(ExprPtr callee) {
  auto c = node(ExprKind::Call, cur().pos);
  c->args.push_back(std::move(callee));
  parse_call_args(*c);
  return done(std::move(c));
}

ExprPtr Parser::parse_filter(ExprPtr subject, bool start_inline) {
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

ExprPtr Parser::parse_test(ExprPtr subject) {
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

}  // namespace nagare::jinja
