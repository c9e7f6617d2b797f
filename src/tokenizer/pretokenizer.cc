// Scanners equivalent to llama.cpp's unicode_regex_split for the supported pre-tokenizers.
// Each pass refines a list of pieces (lengths in code points); a pass never looks across a
// piece boundary, which is what the regex engine does when it is run piece by piece.
#include "tokenizer/pretokenizer.h"

#include "tokenizer/unicode.h"

namespace nagare {
namespace {

using unicode::kLetter;
using unicode::kNumber;
using unicode::kWhitespace;

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

// One piece [begin, end) of the text with the regex engine's view of it: anything outside reads
// as "no character" (flags 0, code point kOutOfRange).
struct Piece {
  const std::vector<uint32_t>& cps;
  const std::vector<uint16_t>& fl;
  size_t begin, end;
  uint32_t cpt(size_t i) const { return i >= begin && i < end ? cps[i] : kOutOfRange; }
  uint16_t flags(size_t i) const { return i >= begin && i < end ? fl[i] : 0; }
};

// Emits words as successive end positions; empty words are dropped.
struct Emitter {
  std::vector<size_t>& out;
  size_t prev;
  size_t add(size_t end) {
    const size_t len = end - prev;
    if (len > 0) out.push_back(len);
    prev = end;
    return len;
  }
};

bool is_lws(uint16_t f) { return f & kWhitespace; }
bool is_l(uint16_t f) { return f & kLetter; }
bool is_n(uint16_t f) { return f & kNumber; }

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const Piece& p, Emitter& em) {
  for (size_t pos = p.begin; pos < p.end;) {
    const uint32_t c = p.cpt(pos);
    const uint16_t f = p.flags(pos);
    if (c == '\'' && pos + 1 < p.end) {
      const uint32_t n1 = p.cpt(pos + 1);
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        pos += em.add(pos + 2);
        continue;
      }
      if (pos + 2 < p.end) {
        const uint32_t n2 = p.cpt(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          pos += em.add(pos + 3);
          continue;
        }
      }
    }
    uint16_t f2 = (c == ' ') ? p.flags(pos + 1) : f;
    if (is_l(f2)) {
      pos += (c == ' ');
      while (is_l(f2)) f2 = p.flags(++pos);
      em.add(pos);
      continue;
    }
    if (is_n(f2)) {
      pos += (c == ' ');
      while (is_n(f2)) f2 = p.flags(++pos);
      em.add(pos);
      continue;
    }
    if (!(is_lws(f2) || is_l(f2) || is_n(f2)) && f2) {
      pos += (c == ' ');
      while (!(is_lws(f2) || is_l(f2) || is_n(f2)) && f2) f2 = p.flags(++pos);
      em.add(pos);
      continue;
    }
    size_t nws = 0;
    while (is_lws(p.flags(pos + nws))) ++nws;
    if (nws > 1 && p.cpt(pos + nws) != kOutOfRange) {  // \s+(?!\S): leave one for the next word
      pos += nws - 1;
      em.add(pos);
      continue;
    }
    if (nws > 0) {
      pos += nws;
      em.add(pos);
      continue;
    }
    em.add(++pos);
  }
}

uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
//  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Lower-casing only ASCII is exact here: no other code point lower-cases to s, t, m, d, r, e, v
// or l (gen_unicode_tables.py checks this).
// Where the piece at pos ends under the whitespace alternatives llama3's and gpt-4o's regexes
// end with, \s*[\r\n]+ | \s+(?!\S) | \s+, or one character when none matches.
size_t whitespace_end(const Piece& p, size_t pos) {
  size_t nws = 0;
  size_t last_rn_end = 0;
  while (is_lws(p.flags(pos + nws))) {
    const uint32_t c = p.cpt(pos + nws);
    if (c == '\r' || c == '\n') last_rn_end = pos + nws + 1;
    ++nws;
  }
  if (last_rn_end > 0) return last_rn_end;                               // \s*[\r\n]+
  if (nws > 1 && p.cpt(pos + nws) != kOutOfRange) return pos + nws - 1;  // \s+(?!\S)
  return pos + (nws > 0 ? nws : 1);
}

void split_llama3(const Piece& p, Emitter& em, size_t max_digits) {
  for (size_t pos = p.begin; pos < p.end;) {
    const uint32_t c = p.cpt(pos);
    const uint16_t f = p.flags(pos);
    if (c == '\'' && pos + 1 < p.end) {
      const uint32_t n1 = ascii_lower(p.cpt(pos + 1));
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        pos += em.add(pos + 2);
        continue;
      }
      if (pos + 2 < p.end) {
        const uint32_t n2 = ascii_lower(p.cpt(pos + 2));
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          pos += em.add(pos + 3);
          continue;
        }
      }
    }
    if (!(c == '\r' || c == '\n' || is_n(f))) {
      if (is_l(f) || is_l(p.flags(pos + 1))) {
        ++pos;
        while (is_l(p.flags(pos))) ++pos;
        em.add(pos);
        continue;
      }
    }
    if (is_n(f)) {
      size_t ini = pos;
      while (is_n(p.flags(pos))) {
        if (++pos - ini >= max_digits) {
          em.add(pos);
          ini = pos;
        }
      }
      em.add(pos);
      continue;
    }
    uint16_t f2 = (c == ' ') ? p.flags(pos + 1) : f;
    if (!(is_lws(f2) || is_l(f2) || is_n(f2)) && f) {
      pos += (c == ' ');
      while (!(is_lws(f2) || is_l(f2) || is_n(f2)) && f2) f2 = p.flags(++pos);
      uint32_t c2 = p.cpt(pos);
      while (c2 == '\r' || c2 == '\n') c2 = p.cpt(++pos);
      em.add(pos);
      continue;
    }
    pos = whitespace_end(p, pos);
    em.add(pos);
  }
}

// llama.cpp's gpt-4o regex (LLAMA_VOCAB_PRE_TYPE_GPT4O), the form it actually runs:
//   [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|...)?
//  |[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|...)?
//  |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// llama.cpp has no custom splitter for it, so it runs through std::regex (ECMAScript: the first
// alternative that matches wins, quantifiers backtrack) on the "collapsed" text, where every
// non-ASCII letter becomes one stand-in byte. So the tokenizer.json classes \p{Lu}\p{Lt}\p{Lm}
// \p{Lo}\p{M} and \p{Ll}\p{Lm}\p{Lo}\p{M} are in effect "letter other than a-z" (upper) and
// "letter other than A-Z" (lower): a non-ASCII letter is both, whatever its case, and marks
// (\p{M}) are not letters at all, so they fall to the punctuation alternative.
bool gpt4o_upper(uint32_t c, uint16_t f) { return is_l(f) && !(c >= 'a' && c <= 'z'); }
bool gpt4o_lower(uint32_t c, uint16_t f) { return is_l(f) && !(c >= 'A' && c <= 'Z'); }

// End of (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])? at `pos`.
size_t gpt4o_contraction(const Piece& p, size_t pos) {
  if (p.cpt(pos) != '\'') return pos;
  const uint32_t n1 = ascii_lower(p.cpt(pos + 1));
  if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') return pos + 2;
  const uint32_t n2 = ascii_lower(p.cpt(pos + 2));
  if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
    return pos + 3;
  }
  return pos;
}

// upper*lower+ from `q` with the regex engine's backtracking; returns the end or 0 (no match;
// 0 cannot be a real end since a match is never empty and q >= 0).
size_t gpt4o_upper_lower(const Piece& p, size_t q) {
  size_t r = q;
  while (gpt4o_upper(p.cpt(r), p.flags(r))) ++r;
  if (gpt4o_lower(p.cpt(r), p.flags(r))) {  // greedy upper* then lower+
    while (gpt4o_lower(p.cpt(r), p.flags(r))) ++r;
    return gpt4o_contraction(p, r);
  }
  // upper* gives back letters until one is also lower (a non-ASCII letter); lower+ then takes
  // just that one, as the next letter back (A-Z) is not lower.
  for (size_t k = r; k > q; --k) {
    if (gpt4o_lower(p.cpt(k - 1), p.flags(k - 1))) return gpt4o_contraction(p, k);
  }
  return 0;
}

// upper+lower* from `q`, or 0.
size_t gpt4o_upper_plus(const Piece& p, size_t q) {
  if (!gpt4o_upper(p.cpt(q), p.flags(q))) return 0;
  size_t r = q;
  while (gpt4o_upper(p.cpt(r), p.flags(r))) ++r;
  while (gpt4o_lower(p.cpt(r), p.flags(r))) ++r;
  return gpt4o_contraction(p, r);
}

void split_gpt4o(const Piece& p, Emitter& em) {
  for (size_t pos = p.begin; pos < p.end;) {
    const uint32_t c = p.cpt(pos);
    const uint16_t f = p.flags(pos);
    // [^\r\n\p{L}\p{N}]: flags 0 only past the piece, which the loop bound excludes.
    const bool prefix = !(c == '\r' || c == '\n' || is_l(f) || is_n(f));
    size_t end = 0;
    if (prefix) end = gpt4o_upper_lower(p, pos + 1);
    if (!end) end = gpt4o_upper_lower(p, pos);
    if (!end && prefix) end = gpt4o_upper_plus(p, pos + 1);
    if (!end) end = gpt4o_upper_plus(p, pos);
    if (end) {
      pos = end;
      em.add(pos);
      continue;
    }
    if (is_n(f)) {  // \p{N}{1,3}
      const size_t ini = pos;
      while (pos - ini < 3 && is_n(p.flags(pos))) ++pos;
      em.add(pos);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
    auto other = [&](size_t i) {
      const uint16_t fi = p.flags(i);
      return fi && !(is_lws(fi) || is_l(fi) || is_n(fi));
    };
    if (other(pos) || (c == ' ' && other(pos + 1))) {
      pos += (c == ' ');
      while (other(pos)) ++pos;
      uint32_t c2 = p.cpt(pos);
      while (c2 == '\r' || c2 == '\n' || c2 == '/') c2 = p.cpt(++pos);
      em.add(pos);
      continue;
    }
    pos = whitespace_end(p, pos);
    em.add(pos);
  }
}

// A regex that is a single character class, split as llama.cpp's std::regex fallback does:
// matches and the gaps between them each become a piece. `repeat` is the class followed by "+".
template <typename Pred>
void split_class(const Piece& p, Emitter& em, bool repeat, Pred match) {
  size_t pos = p.begin;
  while (pos < p.end) {
    if (match(pos)) {
      ++pos;
      if (repeat) {
        while (pos < p.end && match(pos)) ++pos;
      }
    } else {
      while (pos < p.end && !match(pos)) ++pos;
    }
    em.add(pos);
  }
}

// [0-9][0-9][0-9]: leftmost non-overlapping triples of ASCII digits; the rest are gaps.
void split_digit_triples(const Piece& p, Emitter& em) {
  auto digit = [&](size_t i) { return i < p.end && p.cps[i] >= '0' && p.cps[i] <= '9'; };
  size_t pos = p.begin;
  while (pos < p.end) {
    if (digit(pos) && digit(pos + 1) && digit(pos + 2)) {
      pos += 3;
      em.add(pos);
      continue;
    }
    ++pos;
    // Extend the gap until the next position that starts a triple.
    while (pos < p.end && !(digit(pos) && digit(pos + 1) && digit(pos + 2))) ++pos;
    em.add(pos);
  }
}

// Runs `pass` over each current piece, replacing the piece list.
template <typename Pass>
void refine(const std::vector<uint32_t>& cps, const std::vector<uint16_t>& fl,
            std::vector<size_t>& pieces, std::vector<size_t>& scratch, Pass pass) {
  scratch.clear();
  size_t start = 0;
  for (size_t len : pieces) {
    const Piece p{cps, fl, start, start + len};
    Emitter em{scratch, start};
    pass(p, em);
    start += len;
  }
  pieces.swap(scratch);
}

// llama.cpp's collapsed-text \p{P}: ASCII punctuation by its own list, other code points by
// category (non-ASCII whitespace is never punctuation).
bool is_default_punct(uint32_t c, uint16_t f) {
  if (c < 128) {
    return c > 0x20 && c < 0x7F && c != '`' && !(c >= '0' && c <= '9') &&
           !((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
  }
  return !(f & kWhitespace) && (f & unicode::kCategoryMask) == unicode::kPunctuation;
}

bool is_number_class(uint32_t c, uint16_t f) {
  if (c < 128) return c >= '0' && c <= '9';
  return !(f & kWhitespace) && (f & unicode::kCategoryMask) == kNumber;
}

}  // namespace

void pretokenize(PreTokenizer type, const std::vector<uint32_t>& cps,
                 const std::vector<uint16_t>& flags, std::vector<size_t>& word_lengths) {
  if (cps.empty()) return;
  std::vector<size_t> pieces{cps.size()};
  std::vector<size_t> scratch;
  auto number_class = [&](const Piece& p) {
    return [&p](size_t i) { return is_number_class(p.cps[i], p.fl[i]); };
  };
  switch (type) {
    case PreTokenizer::kGpt2:
      refine(cps, flags, pieces, scratch, split_gpt2);
      break;
    case PreTokenizer::kSmollm:
      refine(cps, flags, pieces, scratch,
             [&](const Piece& p, Emitter& em) { split_class(p, em, false, number_class(p)); });
      refine(cps, flags, pieces, scratch, split_gpt2);
      break;
    case PreTokenizer::kLlama3:
      refine(cps, flags, pieces, scratch,
             [](const Piece& p, Emitter& em) { split_llama3(p, em, 3); });
      break;
    case PreTokenizer::kQwen2:
      refine(cps, flags, pieces, scratch,
             [](const Piece& p, Emitter& em) { split_llama3(p, em, 1); });
      break;
    case PreTokenizer::kGpt4o:
      refine(cps, flags, pieces, scratch, split_gpt4o);
      break;
    case PreTokenizer::kDefault:
      refine(cps, flags, pieces, scratch, [](const Piece& p, Emitter& em) {
        split_class(p, em, true, [&p](size_t i) { return is_default_punct(p.cps[i], p.fl[i]); });
      });
      refine(cps, flags, pieces, scratch, split_gpt2);
      refine(cps, flags, pieces, scratch,
             [&](const Piece& p, Emitter& em) { split_class(p, em, true, number_class(p)); });
      refine(cps, flags, pieces, scratch, split_digit_triples);
      break;
  }
  word_lengths.insert(word_lengths.end(), pieces.begin(), pieces.end());
}

}  // namespace nagare
