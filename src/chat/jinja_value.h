// Value: the dynamic value of the Jinja interpreter, with Python semantics (str(), repr(),
// json.dumps, truthiness, equality and ordering) so rendered output matches jinja2 byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nagare::jinja {

class Value;
class Interp;
struct CallArgs;

using ValueList = std::vector<Value>;

struct ListObj {
  ValueList items;
  bool is_tuple = false;  // repr as (a, b); otherwise identical to a list
  // jinja2's map/select/... filters return generators and dict.items() a view: iterable, but not
  // subscriptable or JSON-serializable; a generator is always truthy, has no len() and is used
  // up by its first iteration. Templates can observe all of that, so it is kept.
  enum class Lazy : uint8_t { No, Iterator, View } lazy = Lazy::No;
  const char* lazy_type = "";  // Python type name: "generator", "dict_items", ...
  mutable bool consumed = false;
};

struct DictObj {
  std::vector<std::pair<Value, Value>> items;  // insertion order, as Python dicts
  bool is_namespace = false;                   // namespace(): attributes may be assigned
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(const Value& key, Value value);
};

struct FuncObj {
  std::string name;
  std::function<Value(Interp&, CallArgs&)> fn;
};

struct LoopObj;  // defined by the interpreter

class Value {
 public:
  enum class Type : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Func, Loop };

  Value() = default;  // Undefined
  static Value undefined(std::string hint = {});
  // The sandbox's stand-in for an unsafe attribute: an Undefined whose use is a SecurityError.
  static Value unsafe_undefined(std::string hint);
  static Value none();
  Value(bool b) : type_(Type::Bool) { num_.b = b; }
  Value(int v) : Value(static_cast<int64_t>(v)) {}
  Value(int64_t v) : type_(Type::Int) { num_.i = v; }
  Value(double v) : type_(Type::Float) { num_.f = v; }
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  static Value list(ValueList items = {}, bool is_tuple = false);
  static Value lazy(ValueList items, ListObj::Lazy kind, const char* type_name);
  // A markupsafe.Markup string (from |safe or |escape): `+` HTML-escapes the other operand.
  static Value markup(std::string s);
  static Value dict(std::shared_ptr<DictObj> d);
  static Value dict();
  static Value func(std::string name, std::function<Value(Interp&, CallArgs&)> fn);
  static Value loop(std::shared_ptr<LoopObj> l);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::Undefined; }
  bool is_none() const { return type_ == Type::None; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_float() const { return type_ == Type::Float; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float || type_ == Type::Bool; }
  bool is_string() const { return type_ == Type::String; }
  bool is_list() const { return type_ == Type::List; }
  bool is_lazy() const { return type_ == Type::List && list_obj().lazy != ListObj::Lazy::No; }
  bool is_markup() const { return markup_; }
  bool is_dict() const { return type_ == Type::Dict; }
  bool is_func() const { return type_ == Type::Func; }
  bool is_loop() const { return type_ == Type::Loop; }

  bool as_bool() const { return num_.b; }
  int64_t as_int() const { return type_ == Type::Bool ? (num_.b ? 1 : 0) : num_.i; }
  double as_double() const;  // any number
  const std::string& str() const { return *str_; }
  const std::shared_ptr<const std::string>& str_ptr() const { return str_; }
  const ListObj& list_obj() const { return *static_cast<const ListObj*>(obj_.get()); }
  const ValueList& items() const { return list_obj().items; }
  const std::shared_ptr<DictObj> dict_ptr() const { return std::static_pointer_cast<DictObj>(obj_); }
  const DictObj& dict_obj() const { return *static_cast<const DictObj*>(obj_.get()); }
  const FuncObj& func_obj() const { return *static_cast<const FuncObj*>(obj_.get()); }
  const std::shared_ptr<LoopObj> loop_ptr() const { return std::static_pointer_cast<LoopObj>(obj_); }
  const std::string& undefined_hint() const;  // "'x' is undefined" style message
  bool undefined_is_unsafe() const { return unsafe_; }

  bool truthy() const;
  std::string type_name() const;  // Python's type name: 'str', 'dict', 'NoneType', ...

 private:
  Type type_ = Type::Undefined;
  bool markup_ = false;
  bool unsafe_ = false;  // Undefined from the sandbox (unsafe_undefined)
  union {
    bool b;
    int64_t i;
    double f;
  } num_{};
  std::shared_ptr<const std::string> str_;  // String, or the Undefined hint
  std::shared_ptr<void> obj_;              // ListObj, DictObj, FuncObj or LoopObj
};

// Python str(v) (Undefined renders as empty), repr(v), and float.__repr__.
std::string to_str(const Value& v);
std::string to_repr(const Value& v);
std::string float_repr(double d);
void append_str(std::string& out, const Value& v);

// json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=...) as HF's tojson.
// indent < 0 means None. Throws std::runtime_error for values JSON cannot hold (Python's
// TypeError), NestingLimitError for values nested deeper than 512.
struct NestingLimitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct JsonFormat {
  int indent = -1;
  std::string indent_str;  // used when non-empty (indent given as a string)
  std::string item_sep;    // defaults follow json.dumps: ", " or "," with indent
  std::string key_sep = ": ";
  bool sort_keys = false;
  bool separators_given = false;
  bool ensure_ascii = false;
};
std::string to_json(const Value& v, const JsonFormat& fmt);

// Python ==, and ordering (<) that throws std::runtime_error for unorderable types.
bool equals(const Value& a, const Value& b);
bool less_than(const Value& a, const Value& b);

}  // namespace nagare::jinja
