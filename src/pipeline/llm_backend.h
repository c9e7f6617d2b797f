// Where the pipeline's LLM calls run: nagare's own engine in this process, or any
// OpenAI-compatible server. Both take a list of chat calls and run them concurrently, so the
// engine sees them as one continuous batch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nagare {

struct LlmCall {
  std::string id;                       // names the call in progress lines and the trace
  std::string system;                   // "" for none
  std::string user;
  nlohmann::ordered_json schema;        // the output's JSON Schema; null for free text
  int32_t max_tokens = 512;
  float temperature = 0.0f;
  float frequency_penalty = 0.0f;       // OpenAI's: a retry uses it against a repeating loop
  uint64_t seed = 0;
};

struct LlmResult {
  std::string text;
  std::string error;                    // "" when the call succeeded
  std::string finish_reason;            // "stop", "length", ...
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  double elapsed_ms = 0;
  bool ok() const { return error.empty(); }
};

class LlmBackend {
 public:
  virtual ~LlmBackend() = default;

  // Runs the calls with at most `parallel` in flight; on_done runs on the calling thread as each
  // call finishes (in any order). Results are in call order. A call that fails has error set;
  // nothing throws for one call's failure.
  virtual std::vector<LlmResult> run(const std::vector<LlmCall>& calls, int parallel,
                                     const std::function<void(size_t index, const LlmResult&)>& on_done = {}) = 0;

  // Tokens a call's prompt may use with room for `max_tokens` of output.
  virtual int32_t context_tokens() const = 0;
  // Tokens of a call's prompt as it will be sent (exact in process, an upper estimate remotely).
  virtual int32_t count_prompt_tokens(const LlmCall& call) const = 0;
  // Calls in flight that fill the backend's batch: the default for --parallel.
  virtual int default_parallel() const = 0;
  // "nagare engine: MODEL" or "http://host:port/v1 (MODEL)", for the report.
  virtual std::string describe() const = 0;
};

}  // namespace nagare
