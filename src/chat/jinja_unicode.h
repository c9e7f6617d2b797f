// UTF-8 helpers giving Python str semantics over std::string: code point counts and offsets,
// str.isspace(), case mapping (ASCII, Latin-1, Greek, Cyrillic), and splitlines().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nagare::jinja::utf8 {

// Decodes the code point at s[i], advancing i. Invalid bytes decode as themselves (one byte each),
// so any byte string has a well-defined length and indexing.
uint32_t decode(std::string_view s, size_t& i);
void encode(uint32_t cp, std::string& out);
bool is_ascii(std::string_view s);
size_t length(std::string_view s);  // number of code points
// Byte offset of every code point start, plus s.size() at the end.
std::vector<size_t> offsets(std::string_view s);
std::vector<uint32_t> to_code_points(std::string_view s);

bool is_space(uint32_t cp);  // Python str.isspace()
bool is_line_break(uint32_t cp);  // str.splitlines() boundaries (besides \r\n)
uint32_t to_upper(uint32_t cp);
uint32_t to_lower(uint32_t cp);
bool is_cased_letter(uint32_t cp);  // has a distinct upper or lower form
bool is_printable(uint32_t cp);      // approximation of str.isprintable() for repr()

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);  // str.capitalize()
std::string title(std::string_view s);       // str.title()
std::string swapcase(std::string_view s);

// strip/lstrip/rstrip: chars == nullptr strips whitespace; otherwise any code point in *chars.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);
std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends);

}  // namespace nagare::jinja::utf8
