#include "grammar/json_text.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "grammar/utf8_ranges.h"

namespace nagare::grammar {
namespace {

Expr lit(const char* s) { return Expr::literal(s); }
Expr cs(std::vector<CodeRange> r) { return Expr::char_set(std::move(r)); }
Expr digit() { return cs({{'0', '9'}}); }
Expr hexdigit() { return cs({{'0', '9'}, {'A', 'F'}, {'a', 'f'}}); }

// "0" | [1-9] [0-9]{0,15}
Expr integral_part() {
  return Expr::alt({lit("0"), Expr::seq({cs({{'1', '9'}}), Expr::repeat(digit(), 0, 15)})});
}

}  // namespace

Expr JsonRules::rule(const std::string& name, Expr (JsonRules::*body)()) {
  const int64_t found = ast_.find(name);
  if (found >= 0) return Expr::ref(static_cast<uint32_t>(found));
  const uint32_t id = ast_.add_rule(name);
  ast_.bodies[id] = (this->*body)();
  return Expr::ref(id);
}

Expr JsonRules::ws() { return rule("ws", &JsonRules::ws_body); }
Expr JsonRules::chr() { return rule("char", &JsonRules::chr_body); }
Expr JsonRules::string() { return rule("string", &JsonRules::string_body); }
Expr JsonRules::number() { return rule("number", &JsonRules::number_body); }
Expr JsonRules::integer() { return rule("integer", &JsonRules::integer_body); }
Expr JsonRules::boolean() { return rule("boolean", &JsonRules::boolean_body); }
Expr JsonRules::null() { return rule("null", &JsonRules::null_body); }
Expr JsonRules::value() { return rule("value", &JsonRules::value_body); }
Expr JsonRules::object() { return rule("object", &JsonRules::object_body); }
Expr JsonRules::array() { return rule("array", &JsonRules::array_body); }

Expr JsonRules::ws_body() {
  return Expr::optional(Expr::alt(
      {lit(" "), Expr::seq({Expr::repeat(lit("\n"), 1, 2), Expr::repeat(cs({{' ', ' '}, {'\t', '\t'}}), 0, 20)})}));
}

Expr JsonRules::chr_body() {
  return Expr::alt({cs(complement_ranges(normalize_ranges({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}}))),
                    Expr::seq({lit("\\"), Expr::alt({cs({{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', 'b'},
                                                         {'f', 'f'}, {'n', 'n'}, {'r', 'r'}, {'t', 't'}}),
                                                     Expr::seq({lit("u"), Expr::repeat(hexdigit(), 4, 4)})})})});
}

Expr JsonRules::string_body() { return Expr::seq({lit("\""), Expr::repeat(chr(), 0, kUnbounded), lit("\"")}); }

Expr JsonRules::number_body() {
  return Expr::seq({Expr::optional(lit("-")), integral_part(),
                    Expr::optional(Expr::seq({lit("."), Expr::repeat(digit(), 1, 16)})),
                    Expr::optional(Expr::seq({cs({{'E', 'E'}, {'e', 'e'}}), Expr::optional(cs({{'+', '+'}, {'-', '-'}})),
                                              integral_part()}))});
}

Expr JsonRules::integer_body() { return Expr::seq({Expr::optional(lit("-")), integral_part()}); }
Expr JsonRules::boolean_body() { return Expr::alt({lit("true"), lit("false")}); }
Expr JsonRules::null_body() { return lit("null"); }

Expr JsonRules::value_body() {
  return Expr::alt({object(), array(), string(), number(), boolean(), null()});
}

Expr JsonRules::object_body() {
  auto member = [&] { return Expr::seq({string(), ws(), lit(":"), ws(), value()}); };
  return Expr::seq({lit("{"), ws(),
                    Expr::optional(Expr::seq({member(), Expr::repeat(Expr::seq({ws(), lit(","), ws(), member()}), 0, kUnbounded),
                                              ws()})),
                    lit("}")});
}

Expr JsonRules::array_body() {
  return Expr::seq({lit("["), ws(),
                    Expr::optional(Expr::seq({value(), Expr::repeat(Expr::seq({ws(), lit(","), ws(), value()}), 0, kUnbounded),
                                              ws()})),
                    lit("]")});
}

namespace {

bool all_of(const std::string& s, char c) { return std::all_of(s.begin(), s.end(), [c](char x) { return x == c; }); }

// Fixed-width digit strings a..b (same length, leading zeros allowed: a suffix of a number).
Expr same_width(const std::string& a, const std::string& b) {
  if (a.empty()) return Expr::empty();
  if (a == b) return Expr::literal(a);
  size_t i = 0;
  while (a[i] == b[i]) ++i;
  const std::string prefix = a.substr(0, i);
  const std::string ra = a.substr(i + 1), rb = b.substr(i + 1);
  const size_t k = ra.size();
  std::vector<Expr> alts;
  char lo = a[i], hi = b[i];
  if (!all_of(ra, '0')) {
    alts.push_back(Expr::seq({Expr::literal(prefix + a[i]), same_width(ra, std::string(k, '9'))}));
    ++lo;
  }
  const bool hi_partial = !all_of(rb, '9');
  if (hi_partial) --hi;
  if (lo <= hi) {
    alts.push_back(Expr::seq({Expr::literal(prefix), cs({{static_cast<uint32_t>(lo), static_cast<uint32_t>(hi)}}),
                              Expr::repeat(digit(), static_cast<uint32_t>(k), static_cast<uint32_t>(k))}));
  }
  if (hi_partial) alts.push_back(Expr::seq({Expr::literal(prefix + b[i]), same_width(std::string(k, '0'), rb)}));
  return Expr::alt(std::move(alts));
}

uint64_t pow10(size_t n) {
  uint64_t v = 1;
  while (n--) v *= 10;
  return v;
}

constexpr size_t kOpenDigits = 16;  // digits of an unbounded side, as integral_part()

// Decimal magnitudes a..b, b absent for no upper bound.
Expr magnitude_range(uint64_t a, std::optional<uint64_t> b) {
  const size_t la = std::to_string(a).size();
  const size_t lb = b ? std::to_string(*b).size() : std::max(la, kOpenDigits);
  std::vector<Expr> alts;
  for (size_t len = la; len <= lb; ++len) {
    const uint64_t lo = len == la ? a : pow10(len - 1);
    if (!b && len > la) {
      // Every number of this many digits and more: one pattern for the rest.
      alts.push_back(Expr::seq({cs({{'1', '9'}}), Expr::repeat(digit(), static_cast<uint32_t>(len - 1),
                                                                 static_cast<uint32_t>(lb - 1))}));
      break;
    }
    const uint64_t hi = (b && len == lb) ? *b : (len >= 20 ? UINT64_MAX : pow10(len) - 1);
    if (lo > hi) continue;
    alts.push_back(same_width(std::to_string(lo), std::to_string(hi)));
  }
  return Expr::alt(std::move(alts));
}

uint64_t magnitude(int64_t v) { return v < 0 ? uint64_t(0) - static_cast<uint64_t>(v) : static_cast<uint64_t>(v); }

}  // namespace

Expr integer_range(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<Expr> alts;
  if (!lo || *lo < 0) {  // the negative part: -(1..|lo|), up to -|hi| when hi < 0
    const uint64_t smallest = (hi && *hi < 0) ? magnitude(*hi) : 1;
    std::optional<uint64_t> largest;
    if (lo) largest = magnitude(*lo);
    alts.push_back(Expr::seq({lit("-"), magnitude_range(smallest, largest)}));
  }
  if (!hi || *hi >= 0) {
    const uint64_t smallest = lo && *lo > 0 ? static_cast<uint64_t>(*lo) : 0;
    std::optional<uint64_t> largest;
    if (hi) largest = static_cast<uint64_t>(*hi);
    alts.push_back(magnitude_range(smallest, largest));
  }
  return Expr::alt(std::move(alts));
}

namespace {

std::string escape_of(uint32_t cp) {
  switch (cp) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      return buf;
    }
  }
}

bool needs_escape(uint32_t cp) { return cp < 0x20 || cp == '"' || cp == '\\'; }

}  // namespace

Expr json_encode(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLiteral: {
      std::string out;
      std::string_view s = e.text;
      while (!s.empty()) {
        uint32_t cp;
        const size_t n = decode_utf8(s, cp);
        if (n == 0) {  // not from a pattern or format; kept as is
          out += s[0];
          s.remove_prefix(1);
          continue;
        }
        if (needs_escape(cp)) out += escape_of(cp);
        else out.append(s.substr(0, n));
        s.remove_prefix(n);
      }
      return Expr::literal(std::move(out));
    }
    case Expr::Kind::kCharSet: {
      const std::vector<CodeRange> special = normalize_ranges({{0, 0x1F}, {'"', '"'}, {'\\', '\\'}});
      std::vector<CodeRange> raw;
      std::vector<Expr> alts;
      for (CodeRange r : e.ranges) {
        for (uint32_t cp = r.lo; cp <= std::min<uint32_t>(r.hi, '\\'); ++cp)
          if (needs_escape(cp)) alts.push_back(Expr::literal(escape_of(cp)));
      }
      // The raw part: the set minus the specials (intersect with their complement).
      const std::vector<CodeRange> allowed = complement_ranges(special);
      for (CodeRange r : e.ranges)
        for (CodeRange a : allowed) {
          const uint32_t lo = std::max(r.lo, a.lo), hi = std::min(r.hi, a.hi);
          if (lo <= hi) raw.push_back({lo, hi});
        }
      if (!raw.empty()) alts.insert(alts.begin(), Expr::char_set(std::move(raw)));
      return Expr::alt(std::move(alts));
    }
    case Expr::Kind::kSeq:
    case Expr::Kind::kAlt:
    case Expr::Kind::kRepeat: {
      Expr out = e;
      for (Expr& item : out.items) item = json_encode(item);
      return out;
    }
    case Expr::Kind::kEmpty:
    case Expr::Kind::kRef:
      break;
  }
  return e;
}

std::optional<Expr> format_pattern(const std::string& format) {
  auto rep = [](Expr e, uint32_t n) { return Expr::repeat(std::move(e), n, n); };
  auto sixty = [] { return Expr::seq({cs({{'0', '5'}}), digit()}); };  // minutes, seconds: 00-59
  // RFC 3339 full-date with the days each month has: 29 February only in leap years (divisible
  // by 4; centuries only when divisible by 400). Two digits divisible by 4: an even tens digit
  // with 0, 4 or 8, or an odd one with 2 or 6.
  auto two = [](char lo, char hi) { return cs({{uint32_t(lo), uint32_t(hi)}}); };
  auto one_of = [](std::initializer_list<const char*> items) {
    std::vector<Expr> alts;
    for (const char* i : items) alts.push_back(lit(i));
    return Expr::alt(std::move(alts));
  };
  auto day_to = [&](char last_tens, Expr last) {  // 01..09, 10..(last_tens-1)9, then `last`
    return Expr::alt({Expr::seq({lit("0"), two('1', '9')}), Expr::seq({two('1', char(last_tens - 1)), digit()}), std::move(last)});
  };
  Expr even_tens = cs({{'0', '0'}, {'2', '2'}, {'4', '4'}, {'6', '6'}, {'8', '8'}});
  Expr odd_tens = cs({{'1', '1'}, {'3', '3'}, {'5', '5'}, {'7', '7'}, {'9', '9'}});
  Expr by4_not00 = Expr::alt({Expr::seq({even_tens, cs({{'4', '4'}, {'8', '8'}})}),
                              Expr::seq({cs({{'2', '2'}, {'4', '4'}, {'6', '6'}, {'8', '8'}}), lit("0")}),
                              Expr::seq({odd_tens, cs({{'2', '2'}, {'6', '6'}})})});
  Expr by4 = Expr::alt({Expr::seq({even_tens, cs({{'0', '0'}, {'4', '4'}, {'8', '8'}})}),
                        Expr::seq({odd_tens, cs({{'2', '2'}, {'6', '6'}})})});
  Expr leap_year = Expr::alt({Expr::seq({digit(), digit(), by4_not00}), Expr::seq({by4, lit("00")})});
  Expr month_day = Expr::alt({
      Expr::seq({one_of({"01", "03", "05", "07", "08", "10", "12"}), lit("-"), day_to('3', Expr::seq({lit("3"), two('0', '1')}))}),
      Expr::seq({one_of({"04", "06", "09", "11"}), lit("-"), day_to('3', lit("30"))}),
      Expr::seq({lit("02-"), day_to('2', Expr::seq({lit("2"), two('0', '8')}))}),
  });
  Expr date = Expr::alt({Expr::seq({rep(digit(), 4), lit("-"), month_day}), Expr::seq({leap_year, lit("-02-29")})});
  Expr hour = Expr::alt({Expr::seq({cs({{'0', '1'}}), digit()}), Expr::seq({lit("2"), cs({{'0', '3'}})})});
  Expr time = Expr::seq({hour, lit(":"), sixty(), lit(":"), sixty(),
                         Expr::optional(Expr::seq({lit("."), Expr::repeat(digit(), 1, 9)})),
                         Expr::alt({lit("Z"), Expr::seq({cs({{'+', '+'}, {'-', '-'}}), hour, lit(":"), sixty()})})});
  if (format == "date") return date;
  if (format == "time") return time;
  if (format == "date-time") return Expr::seq({date, lit("T"), time});
  if (format == "uuid") {
    return Expr::seq({rep(hexdigit(), 8), lit("-"), rep(hexdigit(), 4), lit("-"), rep(hexdigit(), 4), lit("-"),
                      rep(hexdigit(), 4), lit("-"), rep(hexdigit(), 12)});
  }
  if (format == "email") {
    // RFC 5322's dot-atom local part and a dotted domain of letter-digit-hyphen labels.
    Expr atext = cs({{'!', '!'}, {'#', '\''}, {'*', '+'}, {'-', '-'}, {'/', '9'}, {'=', '='}, {'?', '?'},
                     {'A', 'Z'}, {'^', '~'}});
    Expr atom = Expr::repeat(atext, 1, 64);
    Expr alnum = cs({{'0', '9'}, {'A', 'Z'}, {'a', 'z'}});
    Expr label = Expr::seq({alnum, Expr::optional(Expr::seq({Expr::repeat(cs({{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'-', '-'}}), 0, 61), alnum}))});
    return Expr::seq({atom, Expr::repeat(Expr::seq({lit("."), atom}), 0, 8), lit("@"), label,
                      Expr::repeat(Expr::seq({lit("."), label}), 1, 8)});
  }
  return std::nullopt;
}

namespace {

struct TrieNode {
  bool terminal = false;
  std::map<uint32_t, TrieNode> children;
};

// Strings that are not in the trie under `node`: end where no name ends, leave the trie with a
// code point no name continues with, or follow one that does.
Expr except(const TrieNode& node) {
  const Expr any_rest = Expr::repeat(Expr::char_set({{0, kMaxCodePoint}}), 0, kUnbounded);
  std::vector<Expr> alts;
  if (!node.terminal) alts.push_back(Expr::empty());
  std::vector<CodeRange> used;
  for (const auto& [cp, child] : node.children) used.push_back({cp, cp});
  const std::vector<CodeRange> others = complement_ranges(normalize_ranges(used));
  if (!others.empty()) alts.push_back(Expr::seq({Expr::char_set(others), any_rest}));
  for (const auto& [cp, child] : node.children) {
    std::string text;
    append_utf8(cp, text);
    alts.push_back(Expr::seq({Expr::literal(std::move(text)), except(child)}));
  }
  return Expr::alt(std::move(alts));
}

}  // namespace

Expr any_string_except(const std::vector<std::string>& values) {
  TrieNode root;
  for (const std::string& v : values) {
    TrieNode* node = &root;
    std::string_view s = v;
    while (!s.empty()) {
      uint32_t cp;
      size_t n = decode_utf8(s, cp);
      if (n == 0) cp = 0xFFFD, n = 1;
      node = &node->children[cp];
      s.remove_prefix(n);
    }
    node->terminal = true;
  }
  return Expr::seq({lit("\""), json_encode(except(root)), lit("\"")});
}

}  // namespace nagare::grammar
