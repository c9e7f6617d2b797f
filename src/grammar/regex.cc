#include "grammar/regex.h"

#include "grammar/grammar.h"
#include "grammar/utf8_ranges.h"

namespace nagare::grammar {
namespace {

constexpr int kMaxNesting = 256;

std::vector<CodeRange> digits() { return {{'0', '9'}}; }
std::vector<CodeRange> word() { return {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}; }
std::vector<CodeRange> space() {  // ECMA-262 WhiteSpace and LineTerminator
  return {{'\t', '\r'}, {' ', ' '},       {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
          {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
}
std::vector<CodeRange> any() { return {{0, kMaxCodePoint}}; }
std::vector<CodeRange> dot() { return complement_ranges(normalize_ranges({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}})); }

class RegexParser {
 public:
  RegexParser(std::string_view p, const std::string& where) : p_(p), where_(where) {}

  Expr parse() {
    std::vector<Expr> branches;
    do {
      branches.push_back(top_branch());
    } while (eat('|'));
    if (!at_end()) fail("unmatched ')'");
    return Expr::alt(std::move(branches));
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw GrammarError(where_ + ": pattern \"" + std::string(p_) + "\": " + what + " (at offset " +
                       std::to_string(pos_) + ")");
  }
  [[noreturn]] void unsupported(const std::string& feature) const {
    fail(feature + " is not supported in patterns");
  }
  bool at_end() const { return pos_ >= p_.size(); }
  char peek(size_t k = 0) const { return pos_ + k < p_.size() ? p_[pos_ + k] : '\0'; }
  bool eat(char c) {
    if (peek() != c || at_end()) return false;
    ++pos_;
    return true;
  }

  // A top-level alternative: '^' and '$' anchor it; without them it may sit anywhere.
  Expr top_branch() {
    const bool start = eat('^');
    Expr body = sequence(true);
    bool end = false;
    if (peek() == '$' && !at_end()) {
      ++pos_;
      end = true;
      if (!at_end() && peek() != '|') fail("'$' is supported only at the end of the pattern");
    }
    std::vector<Expr> parts;
    if (!start) parts.push_back(Expr::repeat(Expr::char_set(any()), 0, kUnbounded));
    parts.push_back(std::move(body));
    if (!end) parts.push_back(Expr::repeat(Expr::char_set(any()), 0, kUnbounded));
    return Expr::seq(std::move(parts));
  }

  Expr alternation() {
    std::vector<Expr> branches;
    do {
      branches.push_back(sequence(false));
    } while (eat('|'));
    return Expr::alt(std::move(branches));
  }

  Expr sequence(bool top) {
    std::vector<Expr> items;
    while (!at_end()) {
      const char c = peek();
      if (c == '|' || c == ')') break;
      if (c == '$') {
        if (top) break;
        fail("'$' is supported only at the end of the pattern");
      }
      if (c == '^') fail("'^' is supported only at the start of the pattern");
      Expr atom = this->atom();
      items.push_back(quantified(std::move(atom)));
    }
    return Expr::seq(std::move(items));
  }

  // {n}, {n,} or {n,m} at pos_, or false (then '{' is a literal, as in web browsers).
  bool braces(uint32_t& min, uint32_t& max) {
    size_t i = pos_ + 1;
    auto number = [&](uint32_t& out) {
      const size_t start = i;
      uint64_t v = 0;
      while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') {
        v = std::min<uint64_t>(v * 10 + static_cast<uint64_t>(p_[i] - '0'), 0xFFFFFFF);
        ++i;
      }
      out = static_cast<uint32_t>(v);
      return i > start;
    };
    if (!number(min)) return false;
    max = min;
    if (i < p_.size() && p_[i] == ',') {
      ++i;
      max = kUnbounded;
      if (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') number(max);
    }
    if (i >= p_.size() || p_[i] != '}') return false;
    pos_ = i + 1;
    return true;
  }

  Expr quantified(Expr atom) {
    uint32_t min, max;
    if (eat('*')) {
      min = 0, max = kUnbounded;
    } else if (eat('+')) {
      min = 1, max = kUnbounded;
    } else if (eat('?')) {
      min = 0, max = 1;
    } else if (peek() == '{' && braces(min, max)) {
      if (max < min) fail("repetition maximum is below its minimum");
    } else {
      return atom;
    }
    eat('?');  // lazy: the same strings match
    if (peek() == '*' || peek() == '+' || peek() == '?') fail("nothing to repeat");
    return Expr::repeat(std::move(atom), min, max);
  }

  Expr atom() {
    const char c = peek();
    if (c == '(') {
      ++pos_;
      if (++depth_ > kMaxNesting) fail("groups are nested too deeply");
      if (eat('?')) {
        if (eat(':')) {
        } else if (peek() == '=' || peek() == '!') {
          unsupported("lookahead (?= / (?!");
        } else if (peek() == '<' && (peek(1) == '=' || peek(1) == '!')) {
          unsupported("lookbehind (?<= / (?<!");
        } else if (peek() == '<' || (peek() == 'P' && peek(1) == '<')) {
          while (!at_end() && peek() != '>') ++pos_;  // a named group is a plain group here
          if (!eat('>')) fail("unterminated group name");
        } else {
          unsupported("the group syntax (?" + std::string(1, peek()) + "");
        }
      }
      Expr inner = alternation();
      if (!eat(')')) fail("missing ')'");
      --depth_;
      return inner;
    }
    if (c == '[') return char_class();
    if (c == '.') {
      ++pos_;
      return Expr::char_set(dot());
    }
    if (c == '*' || c == '+' || c == '?') fail("nothing to repeat");
    if (c == '{') {
      uint32_t a, b;
      const size_t save = pos_;
      if (braces(a, b)) {
        pos_ = save;
        fail("nothing to repeat");
      }
    }
    std::vector<CodeRange> set;
    if (c == '\\') {
      set = escape(false);
    } else {
      const uint32_t cp = literal();
      set = {{cp, cp}};
    }
    if (set.size() == 1 && set[0].lo == set[0].hi) {
      std::string text;
      append_utf8(set[0].lo, text);
      return Expr::literal(std::move(text));
    }
    return Expr::char_set(std::move(set));
  }

  uint32_t literal() {
    uint32_t cp;
    const size_t n = decode_utf8(p_.substr(pos_), cp);
    if (n == 0) fail("invalid UTF-8");
    pos_ += n;
    return cp;
  }

  uint32_t hex(size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      const char c = peek();
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else fail("expected " + std::to_string(n) + " hex digits");
      v = v * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return v;
  }

  // After '\': the code points it stands for.
  std::vector<CodeRange> escape(bool in_class) {
    ++pos_;
    if (at_end()) fail("'\\' at the end of the pattern");
    const char c = p_[pos_++];
    auto one = [](uint32_t cp) { return std::vector<CodeRange>{{cp, cp}}; };
    switch (c) {
      case 'd': return digits();
      case 'D': return complement_ranges(normalize_ranges(digits()));
      case 'w': return word();
      case 'W': return complement_ranges(normalize_ranges(word()));
      case 's': return space();
      case 'S': return complement_ranges(normalize_ranges(space()));
      case 't': return one('\t');
      case 'n': return one('\n');
      case 'r': return one('\r');
      case 'f': return one('\f');
      case 'v': return one('\v');
      case '0':
        if (peek() >= '0' && peek() <= '9') unsupported("an octal escape");
        return one(0);
      case 'x': return one(hex(2));
      case 'u': {
        if (eat('{')) {
          uint32_t v = 0;
          while (!at_end() && peek() != '}') v = std::min<uint32_t>(v * 16 + hex(1), 0x110000);
          if (!eat('}') || v > kMaxCodePoint) fail("invalid \\u{...} escape");
          return one(v);
        }
        const uint32_t v = hex(4);
        if (v >= 0xD800 && v <= 0xDFFF) unsupported("a surrogate \\u escape");
        return one(v);
      }
      case 'c': {
        const char l = peek();
        if (!((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z'))) fail("invalid \\c escape");
        ++pos_;
        return one(static_cast<uint32_t>(l) % 32);
      }
      case 'b':
        if (in_class) return one('\b');
        unsupported("a word boundary \\b");
      case 'B': unsupported("a word boundary \\B");
      case 'k': unsupported("a named backreference \\k");
      case 'p':
      case 'P': unsupported("a Unicode property escape \\p");
      default:
        break;
    }
    if (c >= '1' && c <= '9') unsupported("a backreference \\" + std::string(1, c));
    --pos_;
    const uint32_t cp = literal();  // an identity escape: \. \\ \/ \- ...
    return one(cp);
  }

  std::vector<CodeRange> class_atom() {
    if (peek() == '\\') return escape(true);
    const uint32_t cp = literal();
    return {{cp, cp}};
  }

  Expr char_class() {
    const size_t start = pos_;
    ++pos_;
    const bool negated = eat('^');
    std::vector<CodeRange> set;
    while (true) {
      if (at_end()) {
        pos_ = start;
        fail("unterminated character class");
      }
      if (peek() == ']') {
        ++pos_;
        break;
      }
      const std::vector<CodeRange> lo = class_atom();
      const bool single = lo.size() == 1 && lo[0].lo == lo[0].hi;
      if (single && peek() == '-' && peek(1) != ']' && pos_ + 1 < p_.size()) {
        ++pos_;
        const std::vector<CodeRange> hi = class_atom();
        if (hi.size() != 1 || hi[0].lo != hi[0].hi) fail("a class range must end in one character");
        if (hi[0].lo < lo[0].lo) fail("a class range is reversed");
        set.push_back({lo[0].lo, hi[0].lo});
      } else {
        set.insert(set.end(), lo.begin(), lo.end());
      }
    }
    set = normalize_ranges(std::move(set));
    if (negated) set = complement_ranges(set);
    if (set.empty()) fail("the character class matches nothing");
    return Expr::char_set(std::move(set));
  }

  std::string_view p_;
  const std::string& where_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Expr parse_regex(std::string_view pattern, const std::string& where) { return RegexParser(pattern, where).parse(); }

}  // namespace nagare::grammar
