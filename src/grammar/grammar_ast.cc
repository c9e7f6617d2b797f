#include "grammar/grammar_ast.h"

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "grammar/utf8_ranges.h"

namespace nagare::grammar {

std::vector<CodeRange> normalize_ranges(std::vector<CodeRange> ranges) {
  std::vector<CodeRange> split;
  for (CodeRange r : ranges) {
    if (r.hi > kMaxCodePoint) r.hi = kMaxCodePoint;
    if (r.lo > r.hi) continue;
    if (r.lo <= 0xDFFF && r.hi >= 0xD800) {
      if (r.lo < 0xD800) split.push_back({r.lo, 0xD7FF});
      if (r.hi > 0xDFFF) split.push_back({0xE000, r.hi});
    } else {
      split.push_back(r);
    }
  }
  std::sort(split.begin(), split.end(), [](CodeRange a, CodeRange b) { return a.lo < b.lo; });
  std::vector<CodeRange> out;
  for (CodeRange r : split) {
    // Ranges that meet across the surrogate gap merge too: the gap holds no code points.
    if (!out.empty() && (r.lo <= out.back().hi + 1 || (out.back().hi == 0xD7FF && r.lo == 0xE000)))
      out.back().hi = std::max(out.back().hi, r.hi);
    else
      out.push_back(r);
  }
  return out;
}

std::vector<CodeRange> complement_ranges(const std::vector<CodeRange>& ranges) {
  std::vector<CodeRange> out;
  uint32_t next = 0;
  for (CodeRange r : ranges) {
    if (r.lo > next) out.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return normalize_ranges(std::move(out));
}

Expr Expr::literal(std::string text) {
  if (text.empty()) return empty();
  Expr e;
  e.kind = Kind::kLiteral;
  e.text = std::move(text);
  return e;
}

Expr Expr::char_set(std::vector<CodeRange> ranges) {
  Expr e;
  e.kind = Kind::kCharSet;
  e.ranges = normalize_ranges(std::move(ranges));
  return e;
}

Expr Expr::ref(uint32_t rule) {
  Expr e;
  e.kind = Kind::kRef;
  e.rule = rule;
  return e;
}

Expr Expr::seq(std::vector<Expr> items) {
  Expr e;
  e.kind = Kind::kSeq;
  for (Expr& item : items) {
    if (item.kind == Kind::kEmpty) continue;
    if (item.kind == Kind::kSeq && item.origin == 0) {
      for (Expr& sub : item.items) e.items.push_back(std::move(sub));
    } else {
      e.items.push_back(std::move(item));
    }
  }
  if (e.items.empty()) return empty();
  if (e.items.size() == 1) return std::move(e.items[0]);
  return e;
}

Expr Expr::alt(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  Expr e;
  e.kind = Kind::kAlt;
  e.items = std::move(items);
  return e;
}

Expr Expr::repeat(Expr item, uint32_t min, uint32_t max) {
  Expr e;
  e.kind = Kind::kRepeat;
  e.min = min;
  e.max = max;
  e.items.push_back(std::move(item));
  return e;
}

uint32_t GrammarAst::add_rule(const std::string& name) {
  std::string unique = name;
  for (int i = 1; find(unique) >= 0; ++i) unique = name + "-" + std::to_string(i);
  names.push_back(unique);
  bodies.emplace_back();
  return static_cast<uint32_t>(names.size() - 1);
}

int64_t GrammarAst::find(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int64_t>(i);
  return -1;
}

uint32_t GrammarAst::add_origin(std::string where) {
  origins.push_back(std::move(where));
  return static_cast<uint32_t>(origins.size() - 1);
}

namespace {

void append_escaped(uint32_t cp, bool in_class, std::string& out) {
  switch (cp) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\\': out += "\\\\"; return;
    case '"':
      out += in_class ? "\"" : "\\\"";
      return;
    case '[':
    case ']':
    case '-':
      if (in_class) {
        out += '\\';
        out += static_cast<char>(cp);
        return;
      }
      break;
    case '^':  // would negate the class if first
      if (in_class) {
        out += "\\x5E";
        return;
      }
      break;
    default:
      break;
  }
  if (cp < 0x20 || cp == 0x7F) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", cp);
    out += buf;
  } else {
    append_utf8(cp, out);
  }
}

void print_class(const std::vector<CodeRange>& ranges, std::string& out) {
  if (ranges.size() == 1 && ranges[0].lo == 0 && ranges[0].hi == kMaxCodePoint) {
    out += ".";
    return;
  }
  const std::vector<CodeRange> inverse = complement_ranges(ranges);
  const bool negate = inverse.size() < ranges.size();
  out += negate ? "[^" : "[";
  for (CodeRange r : negate ? inverse : ranges) {
    append_escaped(r.lo, true, out);
    if (r.hi > r.lo) {
      if (r.hi > r.lo + 1) out += "-";
      append_escaped(r.hi, true, out);
    }
  }
  out += "]";
}

// Precedence: 0 = alternation, 1 = sequence, 2 = atom (what a repetition suffix may follow).
void print(const GrammarAst& ast, const Expr& e, int context, std::string& out) {
  using K = Expr::Kind;
  const int level = e.kind == K::kAlt ? 0 : e.kind == K::kSeq ? 1 : 2;
  const bool parens = level < context || (e.kind == K::kEmpty && context > 0);
  if (parens) out += "(";
  switch (e.kind) {
    case K::kEmpty:
      if (context > 0) out += "\"\"";
      break;
    case K::kLiteral: {
      out += "\"";
      std::string_view s = e.text;
      while (!s.empty()) {
        uint32_t cp;
        const size_t n = decode_utf8(s, cp);
        append_escaped(n ? cp : 0xFFFD, false, out);
        s.remove_prefix(n ? n : 1);
      }
      out += "\"";
      break;
    }
    case K::kCharSet:
      print_class(e.ranges, out);
      break;
    case K::kRef:
      out += ast.names[e.rule];
      break;
    case K::kSeq:
      for (size_t i = 0; i < e.items.size(); ++i) {
        if (i) out += " ";
        print(ast, e.items[i], 2, out);
      }
      break;
    case K::kAlt:
      for (size_t i = 0; i < e.items.size(); ++i) {
        if (i) out += " | ";
        print(ast, e.items[i], 1, out);
      }
      break;
    case K::kRepeat: {
      const Expr& item = e.items[0];
      const bool wrap = item.kind == K::kLiteral && item.text.size() > 1;  // "ab"* is fine but clearer
      if (wrap) out += "(";
      print(ast, item, 2, out);
      if (wrap) out += ")";
      if (e.min == 0 && e.max == kUnbounded) {
        out += "*";
      } else if (e.min == 1 && e.max == kUnbounded) {
        out += "+";
      } else if (e.min == 0 && e.max == 1) {
        out += "?";
      } else if (e.min == e.max) {
        out += "{" + std::to_string(e.min) + "}";
      } else if (e.max == kUnbounded) {
        out += "{" + std::to_string(e.min) + ",}";
      } else {
        out += "{" + std::to_string(e.min) + "," + std::to_string(e.max) + "}";
      }
      break;
    }
  }
  if (parens) out += ")";
}

}  // namespace

std::string to_gbnf(const GrammarAst& ast, const Expr& e) {
  std::string out;
  print(ast, e, 0, out);
  return out;
}

std::string GrammarAst::to_gbnf() const {
  std::string out;
  auto rule = [&](size_t i) {
    out += names[i] + " ::= ";
    print(*this, bodies[i], 0, out);
    out += "\n";
  };
  rule(root);
  for (size_t i = 0; i < names.size(); ++i)
    if (i != root) rule(i);
  return out;
}

}  // namespace nagare::grammar
