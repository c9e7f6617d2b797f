// Ollama request bodies (/api/generate, /api/chat) parsed and validated into an OllamaRequest:
// the prompt or messages, streaming, keep-alive and a GenerateRequest template built from
// Ollama's `options`. Like the OpenAI parser it needs no model; errors are ApiError (400).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/json_fields.h"
#include "api/tool_calls.h"
#include "engine/request.h"

namespace nagare {

enum class OllamaEndpoint { kGenerate, kChat };

struct OllamaRequest {
  OllamaEndpoint endpoint = OllamaEndpoint::kGenerate;
  std::string model;
  std::string prompt;                // generate
  std::string system;                // generate: replaces the model's system message
  bool raw = false;                  // generate: the prompt as is, no chat template
  std::vector<int32_t> context;      // generate: an earlier answer's `context`, continued
  // chat: [{"role", "content": string}], plus "tool_calls" (assistant; OpenAI's shape, arguments
  // as JSON text) and "name" (tool: Ollama's tool_name)
  Json messages = Json::array();
  ToolRequest tools;                 // chat: tools (Ollama has no tool_choice: the model decides)
  bool stream = true;                // Ollama streams unless told not to
  // Seconds to keep the model loaded after this request; nullopt: the server's default;
  // negative: forever; 0: unload at once.
  std::optional<double> keep_alive;
  int32_t num_ctx = 0;               // 0: the model's configured context
  GenerateRequest generate;          // everything but the prompt tokens
  std::vector<std::string> ignored_options;  // known to Ollama but meaningless here (num_thread, ...)

  // True for a request with nothing to generate (Ollama's way to load a model): an empty prompt,
  // or no messages.
  bool load_only() const {
    return endpoint == OllamaEndpoint::kGenerate ? prompt.empty() && context.empty() : messages.empty();
  }
};

OllamaRequest parse_ollama_generate(const Json& body);
OllamaRequest parse_ollama_chat(const Json& body);

// Ollama's defaults where a request and the model set nothing (its DefaultOptions).
SamplingParams ollama_default_sampling();

// A keep_alive value: a number of seconds, or a Go duration string ("5m", "1h30m", "300ms",
// "-1s"; a bare number in a string counts as seconds). Throws ApiError naming `param` otherwise.
double parse_keep_alive(const Json& value, const std::string& param = "keep_alive");

}  // namespace nagare
