// UTF-8 decoding/encoding with llama.cpp's exact error behaviour, category lookup, and the GPT-2
// byte-to-unicode alphabet.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace nagare::unicode {

uint16_t flags(uint32_t cp) {
  if (cp >= 0x110000) return kUndefined;
  // Last range whose start <= cp; the table starts at 0 so the result is never before begin.
  const UnicodeRange* end = kUnicodeRanges + kUnicodeRangeCount;
  const UnicodeRange* it = std::upper_bound(
      kUnicodeRanges, end, cp, [](uint32_t v, const UnicodeRange& r) { return v < r.start; });
  return (it - 1)->flags;
}

void decode_utf8(std::string_view s, std::vector<uint32_t>& out) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return (p[k] & 0xC0) == 0x80; };
  while (i < n) {
    const uint8_t b = p[i];
    if (!(b & 0x80)) {
      out.push_back(b);
      i += 1;
    } else if (!(b & 0x40)) {
      out.push_back(kReplacement);
      i += 1;
    } else if (!(b & 0x20)) {
      if (i + 1 >= n || !cont(i + 1)) {
        out.push_back(kReplacement);
        i += 1;
      } else {
        out.push_back(((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu));
        i += 2;
      }
    } else if (!(b & 0x10)) {
      if (i + 2 >= n || !cont(i + 1) || !cont(i + 2)) {
        out.push_back(kReplacement);
        i += 1;
      } else {
        out.push_back(((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu));
        i += 3;
      }
    } else if (!(b & 0x08)) {
      if (i + 3 >= n || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) {
        out.push_back(kReplacement);
        i += 1;
      } else {
        out.push_back(((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) |
                      ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu));
        i += 4;
      }
    } else {
      out.push_back(kReplacement);
      i += 1;
    }
  }
}

namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order.
struct ByteAlphabet {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> to_byte{};  // code points 0..323 cover the whole alphabet
  ByteAlphabet() {
    to_byte.fill(-1);
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : 256 + n++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

}  // namespace

uint32_t to_lower(uint32_t cp) {
  const CodepointPair* end = kLowercase + kLowercaseCount;
  const CodepointPair* it = std::lower_bound(kLowercase, end, cp, [](const CodepointPair& p, uint32_t v) { return p.from < v; });
  return it != end && it->from == cp ? it->to : cp;
}

uint32_t nfd_base(uint32_t cp) {
  const CodepointRangeMap* end = kNfdBase + kNfdBaseCount;
  const CodepointRangeMap* it = std::upper_bound(kNfdBase, end, cp, [](uint32_t v, const CodepointRangeMap& r) { return v < r.first; });
  if (it == kNfdBase) return cp;
  --it;
  return cp <= it->last ? it->to : cp;
}

uint32_t byte_to_codepoint(uint8_t b) { return alphabet().to_cp[b]; }

int codepoint_to_byte(uint32_t cp) {
  return cp < alphabet().to_byte.size() ? alphabet().to_byte[cp] : -1;
}

}  // namespace nagare::unicode
