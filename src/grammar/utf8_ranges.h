// UTF-8 for the grammar compiler: encoding and decoding one code point, and a range of code
// points as alternatives of byte-range sequences, so that character classes become byte-level
// automata (a token that splits a multi-byte character then matches part of a sequence).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/utf8.h"

namespace nagare::grammar {

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

struct ByteRange {
  uint8_t lo, hi;  // inclusive
};

using nagare::append_utf8;  // util/utf8.h

// Decodes the code point at the start of `s` into cp and returns its length in bytes, or 0 for
// an empty string or a malformed, overlong or surrogate sequence.
size_t decode_utf8(std::string_view s, uint32_t& cp);

// The UTF-8 encodings of the code points lo..hi (surrogates skipped) as byte-range sequences:
// a byte string encodes a code point of the range exactly when it matches one of them.
std::vector<std::vector<ByteRange>> utf8_sequences(uint32_t lo, uint32_t hi);

}  // namespace nagare::grammar
