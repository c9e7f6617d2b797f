// Embedding request bodies parsed and validated into an EmbeddingsRequest: OpenAI's
// POST /v1/embeddings, Ollama's POST /api/embed and its legacy POST /api/embeddings. No model
// needed; the model-dependent checks (dimensions, token ids, context) come later, in
// EmbeddingsJob and the engine. Errors are ApiError (400) naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/json_fields.h"

namespace nagare {

// Which API asked: it decides the response's shape, whether vectors are normalized and how an
// input longer than the context is treated.
enum class EmbeddingsApi {
  kOpenAi,        // /v1/embeddings: normalized (as llama-server), one vector per input
  kOllamaEmbed,   // /api/embed: normalized, one vector per input, truncated to the context unless told not to
  kOllamaLegacy,  // /api/embeddings: one vector of one prompt, not normalized (as Ollama)
};

// One input: text to tokenize, or token ids taken as they are.
struct EmbeddingInput {
  std::string text;
  std::vector<int32_t> tokens;
  bool is_tokens = false;
};

struct EmbeddingsRequest {
  EmbeddingsApi api = EmbeddingsApi::kOpenAi;
  std::string model;                  // "" when the client sent none (OpenAI: the pinned model)
  std::vector<EmbeddingInput> inputs; // Ollama: may be empty (a request that only loads the model)
  bool base64 = false;                // OpenAI encoding_format "base64"
  std::optional<int64_t> dimensions;  // must equal the model's width when given
  bool truncate = true;               // Ollama /api/embed: cut inputs to the context
  std::optional<double> keep_alive;   // Ollama: seconds (see OllamaRequest::keep_alive)
};

inline constexpr size_t kMaxEmbeddingInputs = 2048;  // OpenAI's limit per request

// input: a string, a list of strings, a list of token ids or a list of lists of token ids;
// encoding_format "float" (default) or "base64"; dimensions; model; user.
EmbeddingsRequest parse_openai_embeddings(const Json& body);
// model (required); input: a string or a list of strings (absent or empty: load only);
// truncate, options (an object, otherwise unused), keep_alive, dimensions.
EmbeddingsRequest parse_ollama_embed(const Json& body);
// model (required); prompt: a string (empty: load only); options, keep_alive.
EmbeddingsRequest parse_ollama_embeddings(const Json& body);

}  // namespace nagare
