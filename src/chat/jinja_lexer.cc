// Jinja lexer; mirrors jinja2's lexer rules (see jinja_lexer.h).
#include "chat/jinja_lexer.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/jinja_unicode.h"

namespace nagare::jinja {

std::string normalize_source(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

void line_col(const std::string& src, size_t pos, int& line, int& col) {
  line = 1;
  col = 1;
  for (size_t i = 0; i < pos && i < src.size(); ++i) {
    if (src[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
}

namespace {

bool space_at(std::string_view s, size_t i, size_t& next) {
  if (i >= s.size()) return false;
  size_t j = i;
  if (!utf8::is_space(utf8::decode(s, j))) return false;
  next = j;
  return true;
}

size_t skip_spaces(std::string_view s, size_t i) {
  size_t next;
  while (space_at(s, i, next)) i = next;
  return i;
}

std::string rstrip_spaces(const std::string& s) { return utf8::strip(s, nullptr, false, true); }

bool all_spaces(std::string_view s) {
  if (s.empty()) return false;
  return skip_spaces(s, 0) == s.size();
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Digits with single underscores between them, as (\d+_)*\d+. Returns the end, or `i` if none.
size_t scan_digits(std::string_view s, size_t i) {
  size_t j = i;
  if (j >= s.size() || !is_digit(s[j])) return i;
  while (true) {
    while (j < s.size() && is_digit(s[j])) ++j;
    if (j + 1 < s.size() && s[j] == '_' && is_digit(s[j + 1])) {
      ++j;
      continue;
    }
    return j;
  }
}

std::string without_underscores(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '_') out += c;
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's "unicode-escape" decoding of a string literal body, as jinja2 applies it.
std::string unescape(std::string_view body, size_t pos) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 1; k <= n; ++k) {
          const int h = i + k < body.size() ? hex_value(body[i + k]) : -1;
          if (h < 0) throw SyntaxError{"truncated \\" + std::string(1, e) + " escape in string", pos};
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (cp > 0x10FFFF) throw SyntaxError{"illegal Unicode character in string", pos};
        i += n;
        utf8::encode(cp, out);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
            cp = cp * 8 + static_cast<uint32_t>(body[++i] - '0');
          utf8::encode(cp, out);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : s_(src) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) root();
    push(Tok::Eof, "", s_.size());
    return std::move(out_);
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> out_;

  void push(Tok t, std::string text, size_t pos) {
    Token tok;
    tok.type = t;
    tok.text = std::move(text);
    tok.pos = pos;
    out_.push_back(std::move(tok));
  }

  // Whitespace control for the data before a tag, as jinja2's OptionalLStrip.
  std::string control_text(std::string text, char sign, bool is_variable) {
    if (sign == '-') return rstrip_spaces(text);
    if (sign != '+' && !is_variable) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting_) && all_spaces(std::string_view(text).substr(l_pos)))
        text.resize(l_pos);
    }
    return text;
  }

  void emit_data(std::string text, size_t pos) {
    if (!text.empty()) push(Tok::Data, std::move(text), pos);
  }

  // Matches {%[-+]?\s*raw\s*(-%}\s*|%}) at i; returns the end or npos.
  size_t match_raw_begin(size_t i) const {
    size_t j = i + 2;
    if (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) ++j;
    j = skip_spaces(s_, j);
    if (s_.compare(j, 3, "raw") != 0) return std::string::npos;
    j = skip_spaces(s_, j + 3);
    if (s_.compare(j, 3, "-%}") == 0) return skip_spaces(s_, j + 3);
    if (s_.compare(j, 2, "%}") == 0) return j + 2;
    return std::string::npos;
  }

  void root() {
    size_t k = pos_;
    while (true) {
      k = s_.find('{', k);
      if (k == std::string::npos || k + 1 >= s_.size()) {
        emit_data(s_.substr(pos_), pos_);
        pos_ = s_.size();
        return;
      }
      const char c = s_[k + 1];
      if (c == '{' || c == '%' || c == '#') break;
      ++k;
    }
    const char kind = s_[k + 1];
    const char sign = (k + 2 < s_.size() && (s_[k + 2] == '-' || s_[k + 2] == '+')) ? s_[k + 2] : 0;
    const size_t raw_end = kind == '%' ? match_raw_begin(k) : std::string::npos;
    emit_data(control_text(s_.substr(pos_, k - pos_), sign, kind == '{'), pos_);
    line_starting_ = false;
    const size_t after = k + 2 + (sign ? 1 : 0);
    if (raw_end != std::string::npos) return raw(raw_end);
    if (kind == '#') return comment(k, after);
    tag(kind == '{', k, after);
  }

  void raw(size_t start) {
    line_starting_ = start > 0 && s_[start - 1] == '\n';
    size_t k = start;
    while (true) {
      k = s_.find("{%", k);
      if (k == std::string::npos) throw SyntaxError{"Missing end of raw directive", start};
      size_t j = k + 2;
      const char sign = (j < s_.size() && (s_[j] == '-' || s_[j] == '+')) ? s_[j] : 0;
      if (sign) ++j;
      j = skip_spaces(s_, j);
      if (s_.compare(j, 6, "endraw") == 0) {
        j = skip_spaces(s_, j + 6);
        size_t end = block_end_at(j);
        if (end != std::string::npos) {
          emit_data(control_text(s_.substr(start, k - start), sign, false), start);
          line_starting_ = s_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      k += 2;
    }
  }

  // Block end at i: "+%}", "-%}\s*" or "%}\n?" (trim_blocks). Returns the end or npos.
  size_t block_end_at(size_t i) const {
    if (s_.compare(i, 3, "+%}") == 0) return i + 3;
    if (s_.compare(i, 3, "-%}") == 0) return skip_spaces(s_, i + 3);
    if (s_.compare(i, 2, "%}") == 0) return (i + 2 < s_.size() && s_[i + 2] == '\n') ? i + 3 : i + 2;
    return std::string::npos;
  }

  void comment(size_t begin, size_t i) {
    while (i < s_.size()) {
      size_t end = std::string::npos;
      if (s_.compare(i, 3, "+#}") == 0) end = i + 3;
      else if (s_.compare(i, 3, "-#}") == 0) end = skip_spaces(s_, i + 3);
      else if (s_.compare(i, 2, "#}") == 0) end = (i + 2 < s_.size() && s_[i + 2] == '\n') ? i + 3 : i + 2;
      if (end != std::string::npos) {
        line_starting_ = s_[end - 1] == '\n';
        pos_ = end;
        return;
      }
      ++i;
    }
    throw SyntaxError{"Missing end of comment tag", begin};
  }

  void tag(bool is_var, size_t begin, size_t i) {
    push(is_var ? Tok::VarBegin : Tok::BlockBegin, "", begin);
    std::string balance;  // expected closing brackets
    while (true) {
      if (i >= s_.size())
        throw SyntaxError{is_var ? "unexpected end of template, expected '}}'"
                                 : "unexpected end of template, expected '%}'", s_.size()};
      if (balance.empty()) {
        size_t end = std::string::npos;
        if (is_var) {
          if (s_.compare(i, 3, "-}}") == 0) end = skip_spaces(s_, i + 3);
          else if (s_.compare(i, 2, "}}") == 0) end = i + 2;
        } else {
          end = block_end_at(i);
        }
        if (end != std::string::npos) {
          push(is_var ? Tok::VarEnd : Tok::BlockEnd, "", i);
          line_starting_ = s_[end - 1] == '\n';
          pos_ = end;
          return;
        }
      }
      size_t next;
      if (space_at(s_, i, next)) {
        i = skip_spaces(s_, i);
        continue;
      }
      i = token(i, balance);
    }
  }

  size_t token(size_t i, std::string& balance) {
    const char c = s_[i];
    if (is_digit(c)) {
      if (size_t end = match_float(i); end != std::string::npos) {
        Token t;
        t.type = Tok::Float;
        t.fval = std::strtod(without_underscores(s_.substr(i, end - i)).c_str(), nullptr);
        t.pos = i;
        out_.push_back(std::move(t));
        return end;
      }
      return integer(i);
    }
    if (is_name_start(c)) {
      size_t j = i;
      while (j < s_.size() && is_name_char(s_[j])) ++j;
      push(Tok::Name, s_.substr(i, j - i), i);
      return j;
    }
    if (c == '\'' || c == '"') {
      size_t j = i + 1;
      while (j < s_.size() && s_[j] != c) j += (s_[j] == '\\') ? 2 : 1;
      if (j >= s_.size()) throw SyntaxError{std::string("unexpected char '") + c + "'", i};
      push(Tok::String, unescape(std::string_view(s_).substr(i + 1, j - i - 1), i), i);
      return j + 1;
    }
    static const char* kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo) {
      if (s_.compare(i, 2, op) == 0) {
        push(Tok::Op, op, i);
        return i + 2;
      }
    }
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos)
      throw SyntaxError{std::string("unexpected char '") + c + "'", i};
    if (c == '(' || c == '[' || c == '{') {
      balance += c == '(' ? ')' : c == '[' ? ']' : '}';
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) throw SyntaxError{std::string("unexpected '") + c + "'", i};
      if (balance.back() != c)
        throw SyntaxError{std::string("unexpected '") + c + "', expected '" + balance.back() + "'", i};
      balance.pop_back();
    }
    push(Tok::Op, std::string(1, c), i);
    return i + 1;
  }

  // (?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+\-]?(\d+_)*\d+|\.(\d+_)*\d+)
  size_t match_float(size_t i) const {
    if (i > 0 && s_[i - 1] == '.') return std::string::npos;
    size_t j = scan_digits(s_, i);
    auto exponent = [&](size_t k) -> size_t {
      if (k < s_.size() && (s_[k] == 'e' || s_[k] == 'E')) {
        size_t m = k + 1;
        if (m < s_.size() && (s_[m] == '+' || s_[m] == '-')) ++m;
        size_t e = scan_digits(s_, m);
        if (e != m) return e;
      }
      return std::string::npos;
    };
    if (j < s_.size() && s_[j] == '.') {
      size_t f = scan_digits(s_, j + 1);
      if (f != j + 1) {
        size_t e = exponent(f);
        return e != std::string::npos ? e : f;
      }
    }
    return exponent(j);
  }

  size_t integer(size_t i) {
    Token t;
    t.type = Tok::Int;
    t.pos = i;
    size_t j = i;
    int base = 10;
    if (s_[i] == '0' && i + 1 < s_.size() && std::string_view("xXoObB").find(s_[i + 1]) != std::string_view::npos) {
      const char b = static_cast<char>(s_[i + 1] | 0x20);
      base = b == 'x' ? 16 : b == 'o' ? 8 : 2;
      j = i + 2;
      size_t start = j;
      while (j < s_.size()) {
        const char d = s_[j];
        const int h = hex_value(d);
        if (d == '_' && j + 1 < s_.size() && hex_value(s_[j + 1]) >= 0 && hex_value(s_[j + 1]) < base) {
          ++j;
          continue;
        }
        if (h < 0 || h >= base) break;
        ++j;
      }
      if (j == start) {  // "0x" without digits: the integer is just "0"
        j = i + 1;
        base = 10;
      }
    } else if (s_[i] == '0') {
      j = i + 1;
      while (j + 1 < s_.size() && (s_[j] == '0' || (s_[j] == '_' && s_[j + 1] == '0'))) ++j;
      while (j < s_.size() && s_[j] == '0') ++j;
    } else {
      j = scan_digits(s_, i);
    }
    std::string digits = without_underscores(s_.substr(i, j - i));
    if (base != 10) digits = digits.substr(2);
    errno = 0;
    char* endp = nullptr;
    const unsigned long long v = std::strtoull(digits.c_str(), &endp, base);
    if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX))
      throw SyntaxError{"integer literal too large", i};
    t.ival = static_cast<int64_t>(v);
    out_.push_back(std::move(t));
    return j;
  }
};

}  // namespace

std::vector<Token> tokenize(const std::string& src) { return Lexer(src).run(); }

}  // namespace nagare::jinja
