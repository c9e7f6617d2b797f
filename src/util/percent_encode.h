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

}  // namespace nagare
