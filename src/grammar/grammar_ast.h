// The grammar as written: named rules of expressions over code points, the one form that GBNF,
// JSON Schema and regex patterns are all translated into before compilation to bytes, and that
// to_gbnf() prints back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nagare::grammar {

inline constexpr uint32_t kUnbounded = UINT32_MAX;  // a repetition's max for * and +

struct CodeRange {
  uint32_t lo, hi;  // inclusive code points
};

// Sorted, merged, surrogates removed: the canonical form every kCharSet holds.
std::vector<CodeRange> normalize_ranges(std::vector<CodeRange> ranges);
// All valid code points not in `ranges` (which must be normalized).
std::vector<CodeRange> complement_ranges(const std::vector<CodeRange>& ranges);

struct Expr {
  enum class Kind : uint8_t { kEmpty, kLiteral, kCharSet, kRef, kSeq, kAlt, kRepeat };
  Kind kind = Kind::kEmpty;
  uint32_t origin = 0;            // GrammarAst::origins index, for error messages; 0 = none
  uint32_t rule = 0;              // kRef
  uint32_t min = 0, max = 0;      // kRepeat; max may be kUnbounded
  std::string text;               // kLiteral: UTF-8
  std::vector<CodeRange> ranges;  // kCharSet: normalized, non-empty
  std::vector<Expr> items;        // kSeq, kAlt: the parts; kRepeat: the one repeated

  static Expr empty() { return Expr{}; }
  static Expr literal(std::string text);
  static Expr char_set(std::vector<CodeRange> ranges);  // normalizes
  static Expr ref(uint32_t rule);
  static Expr seq(std::vector<Expr> items);  // flattens nested sequences, drops empties
  static Expr alt(std::vector<Expr> items);  // one item: that item
  static Expr repeat(Expr item, uint32_t min, uint32_t max);
  static Expr optional(Expr item) { return repeat(std::move(item), 0, 1); }
  Expr&& at(uint32_t origin_index) && {
    origin = origin_index;
    return std::move(*this);
  }
};

struct GrammarAst {
  std::vector<std::string> names;
  std::vector<Expr> bodies;
  std::vector<std::string> origins{""};  // "line 3, column 7" or "/properties/a"; [0] unknown
  uint32_t root = 0;

  // A new rule named `name`, or `name` with a number appended when taken.
  uint32_t add_rule(const std::string& name);
  // The index of the rule named `name`, or -1.
  int64_t find(const std::string& name) const;
  uint32_t add_origin(std::string where);
  // GBNF text: the root rule first, then the others in order of definition.
  std::string to_gbnf() const;
};

// GBNF for one expression (tests and error messages).
std::string to_gbnf(const GrammarAst& ast, const Expr& e);

}  // namespace nagare::grammar
