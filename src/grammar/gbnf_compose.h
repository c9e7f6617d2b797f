// Composing GBNF texts: one grammar's rules embedded in another (e.g. a tool call's JSON Schema
// grammar between the tags a chat format writes around it).
#pragma once

#include <string>
#include <string_view>

namespace nagare {

// `gbnf` with the rule `from` renamed `to`, in its definition and every reference; literals,
// character classes and comments are left as they are.
std::string gbnf_rename_rule(std::string_view gbnf, std::string_view from, std::string_view to);

}  // namespace nagare
