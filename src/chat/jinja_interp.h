// Tree-walking evaluator for parsed Jinja templates with jinja2's runtime semantics (scoping,
// Undefined, loop variables, macros) and hard limits on depth, steps and output size.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chat/chat_error.h"
#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace nagare::jinja {

// A failure while rendering; `kind` is the category jinja2 would raise (Raised for the template's
// own raise_exception()).
struct RenderError {
  std::string message;
  size_t pos = 0;
  ChatErrorKind kind = ChatErrorKind::Type;
};

// Thrown while constant folding when an expression needs run-time state (jinja2's Impossible).
struct Impossible {};

struct CallArgs {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  // The argument at position `index`, or the keyword `name`; nullptr when absent.
  const Value* get(size_t index, const char* name) const;
  // Fails unless every keyword is in `names` and at most `max_pos` positionals were given.
  void check(Interp& in, const char* fn, size_t max_pos, std::initializer_list<const char*> names) const;
};

struct LoopObj {
  std::shared_ptr<const ValueList> items;
  size_t index0 = 0;
  int depth0 = 0;
};

struct Limits {
  size_t max_string_bytes = 64u << 20;  // any one string, the output included
  uint64_t max_alloc_bytes = 256ull << 20;  // all strings and lists built during one render
  uint64_t max_steps = 5'000'000;        // evaluated nodes and loop iterations: bounds run time
  int max_depth = 400;                    // nested evaluation, macro recursion included
  int64_t max_range = 100000;             // range() length, as jinja2's sandbox
};

class Interp {
 public:
  Interp(const Limits& limits, std::optional<std::tm> now) : limits_(limits), now_(now) {}

  // Renders `body` with `vars` as the template's global variables (plus the built-in globals).
  std::string render(const StmtList& body, const std::vector<std::pair<std::string, Value>>& vars);

  // Fails the render with jinja2's category for the failure; without one, TypeError (Python's
  // error for most wrong operations in a template).
  [[noreturn]] void fail(ChatErrorKind kind, const std::string& message) const;
  [[noreturn]] void fail(const std::string& message) const { fail(ChatErrorKind::Type, message); }
  // Using an Undefined: UndefinedError, or SecurityError for the sandbox's unsafe attributes.
  [[noreturn]] void fail_undefined(const Value& undefined) const {
    fail(undefined.undefined_is_unsafe() ? ChatErrorKind::Security : ChatErrorKind::Undefined,
         undefined.undefined_hint());
  }
  void charge(uint64_t bytes);                 // counts built bytes against the limits
  void work(uint64_t steps);                   // counts work beyond one step against max_steps
  Value make_string(std::string s);            // charges and checks the size
  Value make_list(ValueList items, bool is_tuple = false);

  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  Value call(const Value& fn, CallArgs& args);
  ValueList iterate(const Value& v);  // Python iteration: list items, dict keys, characters
  bool contains(const Value& container, const Value& item);
  Value binop(const std::string& op, const Value& a, const Value& b);
  const std::optional<std::tm>& now() const { return now_; }
  const Limits& limits() const { return limits_; }

 private:
  struct Scope {
    std::vector<std::pair<std::string, Value>> vars;
    std::shared_ptr<Scope> parent;
    Value* find(const std::string& name);
    void set(const std::string& name, Value v);
  };
  enum class Flow { Normal, Break, Continue };

  Limits limits_;
  std::optional<std::tm> now_;
  std::shared_ptr<Scope> scope_;
  std::string* out_ = nullptr;
  uint64_t steps_ = 0;
  uint64_t allocated_ = 0;
  int depth_ = 0;
  size_t pos_ = 0;  // source offset of the node being evaluated, for errors
  bool fold_mode_ = false;  // constant folding at parse time, as jinja2's optimizer

  struct DepthGuard {
    Interp& in;
    explicit DepthGuard(Interp& i);
    ~DepthGuard() { --in.depth_; }
  };

  Flow exec_list(const StmtList& body);
  Flow exec(const Stmt& s);
  Flow exec_for(const Stmt& s);
  void exec_set(const Stmt& s);
  void assign(const Expr& target, Value v, bool allow_namespace);
  void check_namespace(const Value& ns);  // a `set ns.attr` target must be a namespace()
  std::string capture(const StmtList& body);
  std::string capture_scoped(const StmtList& body);
  void write(const Value& v);
  Value define_macro(const Stmt& s);

  Value eval(const Expr& e);  // eval_node, plus steps for the size of the value it yields
  Value eval_node(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_filter(const Expr& e, const Value* subject);
  Value eval_test(const Expr& e);
  Value eval_slice(const Value& obj, const Expr& slice);
  bool compare(const std::string& op, const Value& a, const Value& b);
  void eval_args(const Expr& e, size_t first, CallArgs& args);
  Value lookup(const std::string& name);
  Value loop_attr(const Value& loop, const std::string& name);

  friend void fold_constants(StmtList& body);
  bool try_fold(Expr& e, bool output_root, Value& out);
  void fold(ExprPtr& e, bool output_root);
  void fold(StmtList& body);
};

// Replaces constant subexpressions by their values as jinja2's optimizer does at compile time:
// where it folds and where it does not is observable (a slice of a non-sequence is an Undefined
// inside a folded expression and a TypeError otherwise), so nagare folds the same ones.
void fold_constants(StmtList& body);

// Filters, tests, methods and globals (jinja_filters.cc, jinja_methods.cc).
Value apply_filter(Interp& in, const std::string& name, const Value& subject, CallArgs& args);
bool apply_test(Interp& in, const std::string& name, const Value& subject, CallArgs& args);
// A bound method of a str / dict / list value, or nullopt when `name` is none of its methods.
std::optional<Value> get_method(Interp& in, const Value& obj, const std::string& name);
std::vector<std::pair<std::string, Value>> builtin_globals();
// Python's int(x) / float(x) conversions as jinja2's int and float filters use them.
std::optional<int64_t> to_int(const Value& v);
std::optional<double> to_float(const Value& v);
std::string format_percent(Interp& in, const std::string& fmt, const Value& args);
std::string html_escape(const std::string& s);  // markupsafe.escape

}  // namespace nagare::jinja
