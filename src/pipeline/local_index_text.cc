#include "pipeline/local_index_text.h"

#include <set>

#include "util/ascii.h"
#include "util/utf8.h"

namespace nagare {

namespace {

bool is_space(uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' || cp == 0xA0 ||
         cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200B);
}

std::string_view trim(std::string_view s) {
  const size_t a = s.find_first_not_of(" \t\r\n\f\v");
  if (a == std::string_view::npos) return {};
  return s.substr(a, s.find_last_not_of(" \t\r\n\f\v") - a + 1);
}

// --- passages ------------------------------------------------------------------------------

// Runs of non-blank lines.
std::vector<std::string_view> paragraphs(std::string_view md) {
  std::vector<std::string_view> out;
  size_t start = std::string_view::npos, pos = 0;
  while (pos <= md.size()) {
    size_t nl = md.find('\n', pos);
    if (nl == std::string_view::npos) nl = md.size();
    const bool blank = trim(md.substr(pos, nl - pos)).empty();
    if (blank && start != std::string_view::npos) {
      out.push_back(trim(md.substr(start, pos - start)));
      start = std::string_view::npos;
    } else if (!blank && start == std::string_view::npos) {
      start = pos;
    }
    pos = nl + 1;
  }
  if (start != std::string_view::npos) out.push_back(trim(md.substr(start)));
  return out;
}

// A paragraph longer than kPassageMax in pieces of at most kPassageMax code points.
std::vector<std::string_view> split_long(std::string_view p) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (count_code_points(p.substr(start)) > kPassageMax) {
    size_t i = start, n = 0, sentence = 0, space = 0;
    while (i < p.size() && n < kPassageMax) {
      const uint32_t cp = next_code_point(p, i);
      ++n;
      if (n < kPassageMin / 2) continue;  // a cut this early would leave a stub
      const bool next_space = i < p.size() && (p[i] == ' ' || p[i] == '\n');
      if (cp == 0x3002 || cp == 0xFF0E || cp == 0xFF01 || cp == 0xFF1F || cp == '\n' ||
          ((cp == '.' || cp == '!' || cp == '?') && next_space))
        sentence = i;
      else if (is_space(cp))
        space = i;
    }
    const size_t cut = sentence ? sentence : space ? space : i;
    out.push_back(trim(p.substr(start, cut - start)));
    start = cut;
    while (start < p.size() && std::string_view(" \t\r\n").find(p[start]) != std::string_view::npos) ++start;
  }
  if (start < p.size()) out.push_back(trim(p.substr(start)));
  return out;
}

// --- query terms ---------------------------------------------------------------------------

bool is_separator(uint32_t cp) {
  if (cp < 0x80) return cp <= ' ' || cp == 0x7F || std::string_view("!\"$%()*,;<=>?[\\]^`{|}~").find(char(cp)) != std::string_view::npos;
  if (is_space(cp)) return true;
  if (cp >= 0xA1 && cp <= 0xBF) return true;                                  // ¡ « » ¿ § ...
  if (cp >= 0x2000 && cp <= 0x206F) return true;                              // “ ” ‘ ’ — … and such
  if (cp >= 0x3000 && cp <= 0x303F) return cp < 0x3005 || cp > 0x3007;       // 、。「」 but not 々 〆 〇
  if (cp == 0x30FB) return true;                                              // ・
  return (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||  // full-width ！（），．：？ ...
         (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65);
}

// Characters kept inside a word (node.js, C++, don't, user@host) but trimmed from its ends,
// except a trailing + or # (C++, C#).
bool is_joiner(char c) { return std::string_view("#&'+-./:@_").find(c) != std::string_view::npos; }

std::string ascii_folded(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string quoted(std::string_view term) {
  std::string out = "\"";
  for (char c : term) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

}  // namespace

std::vector<std::string> split_passages(std::string_view markdown) {
  std::vector<std::string> out;
  std::string acc;
  size_t acc_n = 0;
  auto flush = [&] {
    if (!acc.empty()) out.push_back(std::move(acc));
    acc.clear();
    acc_n = 0;
  };
  for (std::string_view para : paragraphs(markdown)) {
    std::vector<std::string_view> pieces;
    if (count_code_points(para) > kPassageMax) pieces = split_long(para);
    else pieces.push_back(para);
    for (std::string_view piece : pieces) {
      if (piece.empty()) continue;
      const size_t n = count_code_points(piece);
      if (acc_n > 0 && acc_n + 2 + n > kPassageMax) flush();
      if (!acc.empty()) acc += "\n\n";
      acc += piece;
      acc_n += n + (acc_n ? 2 : 0);
      if (acc_n >= kPassageMin) flush();
    }
  }
  // A short tail joins the passage before it when both fit: a stub passage scores erratically.
  if (!acc.empty() && !out.empty() && count_code_points(out.back()) + 2 + acc_n <= kPassageMax) {
    out.back() += "\n\n" + acc;
    acc.clear();
  }
  flush();
  return out;
}

QueryTerms parse_query(std::string_view query) {
  QueryTerms terms;
  std::set<std::string> seen_words, seen_phrases;
  auto add_phrase = [&](std::string_view p) {
    if (terms.match.size() < 64 && seen_phrases.insert(ascii_folded(p)).second) terms.match.push_back(quoted(p));
  };
  auto add_word = [&](std::string_view w) {
    while (!w.empty() && is_joiner(w.front())) w.remove_prefix(1);
    while (!w.empty() && is_joiner(w.back()) && w.back() != '+' && w.back() != '#') w.remove_suffix(1);
    if (w.empty() || !seen_words.insert(ascii_folded(w)).second) return;
    std::vector<size_t> starts;  // byte offset of each code point
    bool cjk = false;
    for (size_t i = 0; i < w.size();) {
      starts.push_back(i);
      cjk |= next_code_point(w, i) >= 0x2E80;
    }
    const size_t n = starts.size();
    if (n == 1 && static_cast<unsigned char>(w[0]) < 0x80) return;
    terms.words.emplace_back(w);
    if (n < 3) {
      if (terms.like.size() < 16) terms.like.emplace_back(w);
      return;
    }
    add_phrase(w);
    if (cjk && n > 3) {
      starts.push_back(w.size());
      for (size_t k = 0; k + 3 <= n; ++k) add_phrase(w.substr(starts[k], starts[k + 3] - starts[k]));
    }
  };
  size_t word_start = 0, i = 0;
  while (i < query.size()) {
    const size_t at = i;
    if (is_separator(next_code_point(query, i))) {
      add_word(query.substr(word_start, at - word_start));
      word_start = i;
    }
  }
  add_word(query.substr(word_start));
  return terms;
}

std::string match_expression(const QueryTerms& terms) {
  std::string out;
  for (const std::string& p : terms.match) out += (out.empty() ? "" : " OR ") + p;
  return out;
}

std::string like_pattern(std::string_view term) {
  std::string out = "%";
  for (char c : term) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + '%';
}

size_t count_occurrences(std::string_view haystack, std::string_view needle) {
  if (needle.empty() || needle.size() > haystack.size()) return 0;
  size_t n = 0;
  for (size_t i = 0; i + needle.size() <= haystack.size();) {
    size_t k = 0;
    while (k < needle.size() && ascii_lower(haystack[i + k]) == ascii_lower(needle[k])) ++k;
    if (k == needle.size()) {
      ++n;
      i += needle.size();
    } else {
      ++i;
    }
  }
  return n;
}

std::string make_snippet(std::string_view passage, const std::vector<std::string>& terms, size_t max_code_points) {
  std::string flat;
  bool space = false;
  for (size_t i = 0; i < passage.size();) {
    const size_t at = i;
    if (is_space(next_code_point(passage, i))) {
      space = true;
      continue;
    }
    if (space && !flat.empty()) flat += ' ';
    space = false;
    flat.append(passage.substr(at, i - at));
  }
  // The first place any term occurs, ASCII case-insensitively.
  size_t hit = std::string::npos;
  const std::string folded = ascii_folded(flat);
  for (const std::string& t : terms) hit = std::min(hit, folded.find(ascii_folded(t)));
  size_t start = 0;
  if (hit != std::string::npos && count_code_points(std::string_view(flat).substr(0, hit)) > max_code_points / 4) {
    // Back up a quarter of the snippet before the hit, to a code point boundary.
    start = hit;
    for (size_t n = 0; start > 0 && n < max_code_points / 4;) {
      --start;
      if ((static_cast<unsigned char>(flat[start]) & 0xC0) != 0x80) ++n;
    }
  }
  size_t end = start, n = 0;
  while (end < flat.size() && n < max_code_points) {
    next_code_point(flat, end);
    ++n;
  }
  std::string out = start > 0 ? "…" : "";
  out += flat.substr(start, end - start);
  if (end < flat.size()) out += "…";
  return out;
}

}  // namespace nagare
