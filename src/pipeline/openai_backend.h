// The pipeline's LLM calls against any OpenAI-compatible server (`--url`): nagare serve shared
// with other users, llama-server, vLLM. Calls go out concurrently on their own connections, so
// a batching server runs them together; a call with a schema asks for it by response_format.
#pragma once

#include <string>

#include "pipeline/llm_backend.h"

namespace nagare {

struct OpenAiBackendOptions {
  std::string url;          // the server's root or its /v1 base
  std::string api_key;      // sent as a bearer token when not empty
  std::string model;        // "" : the first model the server lists
  int32_t ctx_size = 0;     // 0: the server's max_model_len when it states one, else 4096
  int parallel = 16;
  double timeout_s = 900;   // one call, start to end
};

class OpenAiBackend : public LlmBackend {
 public:
  // Asks the server for its models (GET /v1/models): an Error when it cannot be reached, refuses
  // the key, or does not serve the named model.
  explicit OpenAiBackend(const OpenAiBackendOptions& options);

  std::vector<LlmResult> run(const std::vector<LlmCall>& calls, int parallel,
                             const std::function<void(size_t, const LlmResult&)>& on_done) override;
  int32_t context_tokens() const override { return ctx_; }
  // No tokenizer here: an upper estimate from the UTF-8 length (a token is at least ~2.5 bytes
  // of English and Japanese text alike), so a merge that might not fit is split.
  int32_t count_prompt_tokens(const LlmCall& call) const override;
  int default_parallel() const override { return options_.parallel; }
  std::string describe() const override { return base_ + " (" + options_.model + ")"; }

  // The request body of one call (for tests and the trace).
  nlohmann::ordered_json request_body(const LlmCall& call) const;
  // One call's result from the response status and body.
  static LlmResult parse_response(long status, const std::string& body);

 private:
  LlmResult call_once(const LlmCall& call) const;

  OpenAiBackendOptions options_;
  std::string base_;  // ".../v1"
  int32_t ctx_ = 4096;
};

}  // namespace nagare
