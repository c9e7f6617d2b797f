// The structured-output fields of a request turned into the engine's grammar: OpenAI's
// response_format, llama-server's grammar and json_schema, Ollama's format. A grammar is kept by
// its source text, so the same schema sent again reuses one grammar (and the masks the engine
// computed for it).
#pragma once

#include <memory>

#include "api/json_fields.h"
#include "grammar/grammar.h"

namespace nagare {

// From an OpenAI request body: response_format {"type": "text" | "json_object" | "json_schema"},
// or llama-server's "grammar" (GBNF text) or "json_schema" (a schema). Null for free text.
// Throws ApiError (400) naming the field and what is wrong with the schema or grammar.
std::shared_ptr<const Grammar> openai_output_grammar(const Json& body);

// From an Ollama request's "format": "json" or a JSON Schema object ("" or null: free text).
std::shared_ptr<const Grammar> ollama_format_grammar(const Json& format);

// A schema compiled (or found in the cache); a GrammarError becomes ApiError naming `param`.
std::shared_ptr<const Grammar> schema_grammar(const Json& schema, const std::string& param);

}  // namespace nagare
