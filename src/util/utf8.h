// UTF-8: encoding one code point (the tokenizer, the chat templates, the grammars) and reading
// text back as code points (the extraction pipeline's chunker, index and merge).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nagare {

// Appends the code point's UTF-8 bytes; one past U+10FFFF becomes U+FFFD.
inline void append_utf8(uint32_t cp, std::string& out) {
  if (cp > 0x10FFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The code point at s[i], advancing i; a byte that does not start a valid sequence (overlong,
// surrogate, cut short) reads as U+FFFD and advances one byte.
uint32_t next_code_point(std::string_view s, size_t& i);
// Code points, counting each byte that is not a continuation byte.
size_t count_code_points(std::string_view s);
// Valid UTF-8 throughout (a literal U+FFFD is valid).
bool is_valid_utf8(std::string_view s);

}  // namespace nagare
