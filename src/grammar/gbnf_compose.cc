#include "grammar/gbnf_compose.h"

namespace nagare {
namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::string gbnf_rename_rule(std::string_view gbnf, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(gbnf.size());
  size_t i = 0;
  while (i < gbnf.size()) {
    const char c = gbnf[i];
    if (c == '"' || c == '[') {  // a literal or a class: copied up to its unescaped end
      const char close = c == '"' ? '"' : ']';
      size_t j = i + 1;
      while (j < gbnf.size() && gbnf[j] != close) j += gbnf[j] == '\\' ? 2 : 1;
      j = std::min(j + 1, gbnf.size());
      out.append(gbnf.substr(i, j - i));
      i = j;
    } else if (c == '#') {  // a comment, to the end of the line
      size_t j = gbnf.find('\n', i);
      if (j == std::string_view::npos) j = gbnf.size();
      out.append(gbnf.substr(i, j - i));
      i = j;
    } else if (name_char(c)) {
      size_t j = i;
      while (j < gbnf.size() && name_char(gbnf[j])) ++j;
      const std::string_view name = gbnf.substr(i, j - i);
      out.append(name == from ? to : name);
      i = j;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

}  // namespace nagare
