#include "grammar/gbnf_parser.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "grammar/grammar.h"
#include "grammar/utf8_ranges.h"

namespace nagare::grammar {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  GrammarAst parse() {
    skip_space(true);
    while (pos_ < s_.size()) parse_rule();
    for (const auto& [name, where] : first_use_) {
      const int64_t id = ast_.find(name);
      if (!defined_[static_cast<size_t>(id)]) fail_at(where, "undefined rule '" + name + "'");
    }
    const int64_t root = ast_.find("root");
    if (root < 0 || !defined_[static_cast<size_t>(root)])
      throw GrammarError("the grammar has no rule named 'root'");
    ast_.root = static_cast<uint32_t>(root);
    return std::move(ast_);
  }

 private:
  [[noreturn]] void fail_at(size_t at, const std::string& what) const {
    throw GrammarError(position(at) + ": " + what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  // Positions are asked for in increasing order while parsing: counting on from the last one
  // keeps this linear in the text.
  std::string position(size_t at) const {
    if (at < pos_cache_.offset) pos_cache_ = {};
    for (size_t i = pos_cache_.offset; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++pos_cache_.line;
        pos_cache_.column = 1;
      } else if ((static_cast<uint8_t>(s_[i]) & 0xC0) != 0x80) {
        ++pos_cache_.column;  // columns count characters, not UTF-8 continuation bytes
      }
    }
    pos_cache_.offset = std::max(pos_cache_.offset, std::min(at, s_.size()));
    return "line " + std::to_string(pos_cache_.line) + ", column " + std::to_string(pos_cache_.column);
  }

  char peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }

  // Spaces, tabs and # comments; newlines too where `newline_ok` (inside parentheses, after
  // '::=' and '|', between rules), as in llama.cpp.
  void skip_space(bool newline_ok) {
    while (!at_end()) {
      const char c = peek();
      if (c == '#') {
        while (!at_end() && peek() != '\n' && peek() != '\r') ++pos_;
      } else if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  std::string parse_name() {
    const size_t start = pos_;
    while (!at_end() && is_word_char(peek())) ++pos_;
    if (pos_ == start) fail("expected a rule name");
    return std::string(s_.substr(start, pos_ - start));
  }

  uint32_t rule_id(const std::string& name) {
    const int64_t id = ast_.find(name);
    if (id >= 0) return static_cast<uint32_t>(id);
    defined_.push_back(false);
    return ast_.add_rule(name);
  }

  void parse_rule() {
    const size_t start = pos_;
    const std::string name = parse_name();
    skip_space(false);
    if (s_.substr(pos_, 3) != "::=") fail("expected '::=' after rule name '" + name + "'");
    pos_ += 3;
    skip_space(true);
    const uint32_t id = rule_id(name);
    if (defined_[id]) fail_at(start, "rule '" + name + "' is defined twice");
    defined_[id] = true;
    ast_.bodies[id] = parse_alternates(false);
    if (peek() == '\r') ++pos_;
    if (peek() == '\n') {
      ++pos_;
    } else if (!at_end()) {
      fail(peek() == ')' ? "unmatched ')'" : "unexpected character '" + std::string(1, peek()) + "'");
    }
    skip_space(true);
  }

  Expr parse_alternates(bool nested) {
    std::vector<Expr> alts;
    alts.push_back(parse_sequence(nested));
    while (peek() == '|') {
      ++pos_;
      skip_space(true);
      alts.push_back(parse_sequence(nested));
    }
    return Expr::alt(std::move(alts));
  }

  uint32_t parse_hex(size_t digits) {
    uint32_t v = 0;
    for (size_t i = 0; i < digits; ++i) {
      const char c = peek();
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else fail("expected " + std::to_string(digits) + " hex digits");
      v = v * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return v;
  }

  // One character of a literal or class: an escape or a UTF-8 code point.
  uint32_t parse_char() {
    const size_t start = pos_;
    if (peek() == '\\') {
      ++pos_;
      const char c = peek();
      ++pos_;
      uint32_t cp;
      switch (c) {
        case 'x': cp = parse_hex(2); break;
        case 'u': cp = parse_hex(4); break;
        case 'U': cp = parse_hex(8); break;
        case 't': return '\t';
        case 'r': return '\r';
        case 'n': return '\n';
        case '\\': case '"': case '[': case ']': case '-': case '/': case '^': case '.':
          return static_cast<uint32_t>(c);
        default:
          fail_at(start, "unknown escape '\\" + std::string(1, c) + "'");
      }
      if (cp > kMaxCodePoint || (cp >= 0xD800 && cp <= 0xDFFF))
        fail_at(start, "escape is not a valid Unicode code point");
      return cp;
    }
    uint32_t cp;
    const size_t n = decode_utf8(s_.substr(pos_), cp);
    if (n == 0) fail("invalid UTF-8");
    pos_ += n;
    return cp;
  }

  uint32_t parse_count() {
    const size_t start = pos_;
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + static_cast<uint64_t>(peek() - '0');
      if (v > 0xFFFFFFF) fail_at(start, "repetition count is too large");
      ++pos_;
    }
    if (pos_ == start) fail("expected a number");
    return static_cast<uint32_t>(v);
  }

  Expr parse_sequence(bool nested) {
    std::vector<Expr> items;
    auto repeat = [&](size_t at, uint32_t min, uint32_t max) {
      if (items.empty()) fail_at(at, "a repetition operator must follow an item");
      Expr& item = items.back();
      item = Expr::repeat(std::move(item), min, max).at(ast_.add_origin(position(at)));
    };
    while (!at_end()) {
      const size_t start = pos_;
      const char c = peek();
      if (c == '"') {
        ++pos_;
        std::string text;
        while (peek() != '"') {
          if (at_end()) fail_at(start, "unterminated string literal");
          append_utf8(parse_char(), text);
        }
        ++pos_;
        items.push_back(Expr::literal(std::move(text)).at(ast_.add_origin(position(start))));
      } else if (c == '[') {
        ++pos_;
        const bool negated = peek() == '^';
        if (negated) ++pos_;
        std::vector<CodeRange> ranges;
        while (peek() != ']') {
          if (at_end()) fail_at(start, "unterminated character class");
          const uint32_t lo = parse_char();
          uint32_t hi = lo;
          if (peek() == '-' && peek(1) != ']' && pos_ + 1 < s_.size()) {
            ++pos_;
            hi = parse_char();
            if (hi < lo) fail_at(start, "character range is reversed");
          }
          ranges.push_back({lo, hi});
        }
        ++pos_;
        ranges = normalize_ranges(std::move(ranges));
        if (negated) ranges = complement_ranges(ranges);
        if (ranges.empty()) fail_at(start, "character class matches nothing");
        items.push_back(Expr::char_set(std::move(ranges)).at(ast_.add_origin(position(start))));
      } else if (c == '.') {
        ++pos_;
        items.push_back(Expr::char_set({{0, kMaxCodePoint}}));
      } else if (is_word_char(c)) {
        const std::string name = parse_name();
        first_use_.emplace(name, start);
        items.push_back(Expr::ref(rule_id(name)).at(ast_.add_origin(position(start))));
      } else if (c == '(') {
        ++pos_;
        if (++nesting_ > kMaxNesting) fail_at(start, "groups are nested too deeply");
        skip_space(true);
        Expr group = parse_alternates(true);
        if (peek() != ')') fail_at(start, "unterminated group: expected ')'");
        ++pos_;
        --nesting_;
        items.push_back(std::move(group));
      } else if (c == '*') {
        ++pos_;
        repeat(start, 0, kUnbounded);
      } else if (c == '+') {
        ++pos_;
        repeat(start, 1, kUnbounded);
      } else if (c == '?') {
        ++pos_;
        repeat(start, 0, 1);
      } else if (c == '{') {
        ++pos_;
        skip_space(nested);
        const uint32_t min = parse_count();
        skip_space(nested);
        uint32_t max = min;
        if (peek() == ',') {
          ++pos_;
          skip_space(nested);
          max = kUnbounded;
          if (peek() >= '0' && peek() <= '9') max = parse_count();
          skip_space(nested);
        }
        if (peek() != '}') fail("expected '}' to close the repetition");
        ++pos_;
        if (max < min) fail_at(start, "repetition maximum is below its minimum");
        repeat(start, min, max);
      } else if (c == '<' || c == '!') {
        fail("token references (<...>) are not supported");
      } else {
        break;
      }
      skip_space(nested);
    }
    return Expr::seq(std::move(items));
  }

  std::string_view s_;
  size_t pos_ = 0;
  struct PositionCache {
    size_t offset = 0, line = 1, column = 1;
  };
  mutable PositionCache pos_cache_;
  static constexpr int kMaxNesting = 256;  // parentheses; bounds every recursion over the rules
  int nesting_ = 0;
  GrammarAst ast_;
  std::vector<bool> defined_;
  std::unordered_map<std::string, size_t> first_use_;
};

}  // namespace

GrammarAst parse_gbnf(std::string_view text) { return Parser(text).parse(); }

}  // namespace nagare::grammar
