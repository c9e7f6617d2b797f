// Recursive-descent parser mirroring jinja2's Parser: statements and post-parse checks here,
// expressions in jinja_expr_parser.cc (see jinja_parser.h).
#include "chat/jinja_parser.h"

#include <algorithm>

#include "chat/jinja_interp.h"
#include "chat/jinja_parser_impl.h"

namespace nagare::jinja {

StmtList Parser::run() {
  StmtList body = subparse({});
  if (cur().type != Tok::Eof) fail("unexpected '" + describe(cur()) + "'");
  check_names(body, false);
  return body;
}

StmtList Parser::subparse(std::initializer_list<const char*> end_tokens) {
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
StmtList Parser::parse_body(std::initializer_list<const char*> end_tokens) {
  if (is_op(":")) advance();
  expect_block_end();
  return subparse(end_tokens);
}

StmtPtr Parser::parse_statement() {
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

StmtPtr Parser::parse_if(StmtPtr s) {
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

StmtPtr Parser::parse_for(StmtPtr s) {
  s->kind = StmtKind::For;
  s->target = parse_assign_target(true, {"in"});
  expect_keyword("in");
  s->expr = parse_tuple(false, false, {"recursive"}, false);
  if (is_name("if")) {
    advance();
    s->cond = parse_expression(true);
  }
  if (is_name("recursive")) fail_unsupported("recursive loops are not supported");
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

StmtPtr Parser::parse_set(StmtPtr s) {
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

StmtPtr Parser::parse_macro(StmtPtr s) {
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
ExprPtr Parser::parse_assign_target(bool with_tuple, std::initializer_list<const char*> extra_end) {
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

bool Parser::mentions(const Expr* e, const char* name) {
  if (!e) return false;
  if (e->kind == ExprKind::Name && e->name == name) return true;
  for (const auto& a : e->args)
    if (mentions(a.get(), name)) return true;
  for (const auto& kv : e->kwargs)
    if (mentions(kv.second.get(), name)) return true;
  return false;
}

bool Parser::mentions(const StmtList& body, const char* name) {
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
void Parser::check_names(Expr* e, bool soft) {
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

void Parser::check_names(StmtList& body, bool soft) {
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

StmtList parse_template(const std::string& src) {
  const std::vector<Token> tokens = tokenize(src);
  StmtList body = Parser(tokens).run();
  fold_constants(body);
  return body;
}

}  // namespace nagare::jinja
