// Lexer for the Jinja subset: splits a template into data and tag tokens with jinja2's whitespace
// rules as HF configures them (trim_blocks, lstrip_blocks, "-"/"+" markers, newline normalization).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nagare::jinja {

enum class Tok : uint8_t {
  Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof,
};

struct Token {
  Tok type = Tok::Eof;
  std::string text;  // data, name, operator, or the unescaped string literal
  int64_t ival = 0;
  double fval = 0;
  size_t pos = 0;  // byte offset in the normalized source
};

// Thrown for syntax errors; the template wrapper adds line and column from `pos`. `unsupported`
// marks valid jinja2 that nagare does not implement (recursive loops, f(*args)).
struct SyntaxError {
  std::string message;
  size_t pos;
  bool unsupported = false;
};

// Source with newlines normalized to "\n" and one trailing newline dropped, as jinja2 does.
std::string normalize_source(const std::string& source);

// Tokenizes a normalized source. Throws SyntaxError.
std::vector<Token> tokenize(const std::string& src);

// 1-based line and column (in bytes) of `pos` in `src`.
void line_col(const std::string& src, size_t pos, int& line, int& col);

}  // namespace nagare::jinja
