// Internal: the Parser class shared by jinja_parser.cc (statements, checks) and
// jinja_expr_parser.cc (expressions). It mirrors jinja2's Parser.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "chat/jinja_parser.h"

namespace nagare::jinja {

inline std::string describe(const Token& t) {
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

  StmtList run();

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
  [[noreturn]] void fail_unsupported(const std::string& msg) const { throw SyntaxError{msg, cur().pos, true}; }

  void expect_op(const char* op);
  std::string expect_name();
  void expect_block_end();
  void expect_keyword(const char* kw);

  ExprPtr node(ExprKind kind, size_t pos);
  // Finishes a node: its height bounds the evaluator's recursion.
  ExprPtr done(ExprPtr e);

  // ---- statements ----

  StmtList subparse(std::initializer_list<const char*> end_tokens);

  // After a statement header: optional ':' then '%}', then the body up to one of end_tokens
  // (left as the current token).
  StmtList parse_body(std::initializer_list<const char*> end_tokens);

  StmtPtr parse_statement();

  StmtPtr parse_if(StmtPtr s);

  StmtPtr parse_for(StmtPtr s);

  StmtPtr parse_set(StmtPtr s);

  StmtPtr parse_macro(StmtPtr s);

  // Name, or a tuple of names (for / set / with targets).
  ExprPtr parse_assign_target(bool with_tuple, std::initializer_list<const char*> extra_end);

  // ---- expressions ----

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<const char*> extra_end,
                      bool explicit_parens);

  bool is_tuple_end(std::initializer_list<const char*> extra_end) const;

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr();

  ExprPtr binary(ExprKind kind, ExprPtr a, ExprPtr b, size_t pos, std::string name = {});

  ExprPtr parse_or();

  ExprPtr parse_and();

  ExprPtr parse_not();

  ExprPtr parse_compare();

  ExprPtr parse_math1();

  ExprPtr parse_concat();

  ExprPtr parse_math2();

  ExprPtr parse_pow();

  ExprPtr parse_unary(bool with_filter);

  ExprPtr parse_primary();

  ExprPtr parse_postfix(ExprPtr n);

  ExprPtr parse_filter_expr(ExprPtr n);

  ExprPtr parse_subscript(ExprPtr obj);

  ExprPtr parse_subscribed();

  void parse_call_args(Expr& e);

  ExprPtr parse_call(ExprPtr callee);

  ExprPtr parse_filter(ExprPtr subject, bool start_inline);

  ExprPtr parse_test(ExprPtr subject);

  // ---- checks after parsing ----

  static bool mentions(const Expr* e, const char* name);
  static bool mentions(const StmtList& body, const char* name);

  // jinja2 rejects unknown filters and tests at compile time, except under {% if %} or a
  // conditional expression, where the error waits until the filter is actually used.
  void check_names(Expr* e, bool soft);
  void check_names(StmtList& body, bool soft);
};

}  // namespace nagare::jinja
