// Syntax tree of a parsed Jinja template: expressions and statements, built by jinja_parser
// and walked by jinja_interp. Each node keeps its source offset for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace nagare::jinja {

enum class ExprKind : uint8_t {
  Const,    // value
  Name,     // name
  List,     // args = items
  Tuple,    // args = items
  Dict,     // args = k0, v0, k1, v1, ...
  GetAttr,  // args[0].name
  GetItem,  // args[0][args[1]]
  Slice,    // args = start, stop, step (each may be null)
  Call,     // args[0](args[1:], kwargs)
  Filter,   // args[0] | name(args[1:], kwargs); args[0] is null in a filter block
  Test,     // args[0] is name(args[1:], kwargs)
  Not,
  Neg,
  Pos,
  Binary,   // args[0] name args[1], name in + - * / // % **
  Concat,   // args joined with ~
  Compare,  // args[0] ops[0] args[1] ops[1] args[2] ...
  And,
  Or,
  Cond,     // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  size_t pos = 0;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  // For a Filter/Test: whether it sits under an {% if %} or a conditional expression, where
  // jinja2 defers "no such filter" from compile time to render time.
  bool soft = false;
  int height = 1;  // of this subtree, bounded by kMaxSyntaxDepth
};

enum class StmtKind : uint8_t {
  Data,         // text
  Output,       // {{ expr }}
  If,           // branches, else_body
  For,          // target in expr [if cond]: body, else_body
  Set,          // target = expr
  SetBlock,     // {% set target %}body{% endset %}, optional filter in expr
  Macro,        // name(params=defaults): body
  FilterBlock,  // {% filter expr %}body
  With,         // assigns: body
  Break,
  Continue,
  Scope,        // body only ({% generation %})
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  size_t pos = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr target;  // Name, Tuple of Names, or GetAttr on a Name (namespace attribute)
  ExprPtr cond;
  StmtList body;
  StmtList else_body;
  std::vector<std::pair<ExprPtr, StmtList>> branches;  // if / elif
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned to the last params
  std::vector<std::pair<ExprPtr, ExprPtr>> assigns;
  bool uses_varargs = false;  // macro body refers to varargs / kwargs
  bool uses_kwargs = false;
};

}  // namespace nagare::jinja
