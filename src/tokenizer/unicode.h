// Unicode helpers for the tokenizers: llama.cpp-compatible (lenient) UTF-8 decoding and
// encoding, and per-code-point category flags from a generated range table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/utf8.h"

namespace nagare::unicode {

// Category flags, one category bit per code point plus kWhitespace (Unicode White_Space).
// The values match llama.cpp's unicode_cpt_flags so the scanners can be checked against it.
enum : uint16_t {
  kUndefined = 0x01,   // unassigned (Cn) and anything past U+10FFFF
  kNumber = 0x02,      // \p{N}
  kLetter = 0x04,      // \p{L}
  kSeparator = 0x08,   // \p{Z}
  kMark = 0x10,        // \p{M}
  kPunctuation = 0x20, // \p{P}
  kSymbol = 0x40,      // \p{S}
  kControl = 0x80,     // \p{C}
  kCategoryMask = 0xFF,
  kWhitespace = 0x100, // \s
};

struct UnicodeRange {
  uint32_t start;
  uint16_t flags;
};
extern const UnicodeRange kUnicodeRanges[];
extern const size_t kUnicodeRangeCount;
extern const char kUnicodeVersion[];

uint16_t flags(uint32_t cp);

constexpr uint32_t kReplacement = 0xFFFD;

// Byte length of a UTF-8 sequence from its first byte, as llama.cpp computes it (continuation and
// invalid lead bytes count as 1; no validation of what follows).
inline size_t utf8_len(uint8_t first) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[first >> 4];
}

// Decodes `s` the way llama.cpp's unicode_cpts_from_utf8 does: a malformed sequence yields
// U+FFFD and consumes one byte; overlong forms and surrogates decode to their value; four-byte
// forms may give values past U+10FFFF. Appends to `out`.
void decode_utf8(std::string_view s, std::vector<uint32_t>& out);

// Appends the UTF-8 form of `cp`; values past U+10FFFF (which llama.cpp cannot encode) become
// U+FFFD (util/utf8.h).
using nagare::append_utf8;

// WordPiece normalization, as llama.cpp's unicode_tolower and unicode_cpts_normalize_nfd: the
// simple lower-case mapping, and the first code point of the canonical decomposition (the base
// letter without its accents). Code points without one map to themselves.
struct CodepointPair {
  uint32_t from, to;
};
struct CodepointRangeMap {
  uint32_t first, last, to;
};
extern const CodepointPair kLowercase[];
extern const size_t kLowercaseCount;
extern const CodepointRangeMap kNfdBase[];
extern const size_t kNfdBaseCount;
uint32_t to_lower(uint32_t cp);
uint32_t nfd_base(uint32_t cp);

// GPT-2 byte-level BPE alphabet: each byte maps to one printable code point.
uint32_t byte_to_codepoint(uint8_t b);
// Inverse; returns -1 for a code point outside the alphabet.
int codepoint_to_byte(uint32_t cp);

}  // namespace nagare::unicode
