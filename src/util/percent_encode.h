// RFC 3986 percent-encoding of UTF-8 text for URLs: every byte but the unreserved characters
// (letters, digits, - . _ ~) and the ones the caller keeps becomes %XX. Used for query values
// (search APIs) and for paths (a model file's path in a Hugging Face URL, which keeps '/').
#pragma once

#include <string>
#include <string_view>

namespace nagare {

inline std::string percent_encode(std::string_view value, std::string_view keep = "") {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3);
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || keep.find(char(c)) != std::string_view::npos) {
      out += char(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The inverse, for a path segment or query value: %XX becomes the byte (and, with plus_is_space,
// '+' a space); a malformed escape stays as it is.
inline std::string percent_decode(std::string_view value, bool plus_is_space = false) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '%' && i + 2 < value.size() && hex(value[i + 1]) >= 0 && hex(value[i + 2]) >= 0) {
      out += char(hex(value[i + 1]) * 16 + hex(value[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && value[i] == '+' ? ' ' : value[i];
    }
  }
  return out;
}

}  // namespace nagare
