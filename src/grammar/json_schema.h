// JSON Schema -> GrammarAst: JSON's own grammar shaped by the keywords of the subset in
// docs/structured-output.md; any other keyword is refused with its JSON pointer.
#pragma once

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "grammar/grammar_ast.h"

namespace nagare::grammar {

GrammarAst json_schema_to_ast(const nlohmann::ordered_json& schema, const GrammarLimits& limits);
// Any JSON object, any values (nesting bounded by the matcher's stack depth).
GrammarAst any_json_object_ast();

}  // namespace nagare::grammar
