// RequestError: why the engine refuses a request that can never run. The engine is the one place
// a request's limits are checked; the kind and numbers let each API answer in its own shape
// (OpenAI's context_length_exceeded with its wording, Ollama's {"error": ...}).
#pragma once

#include <cstdint>
#include <string>

#include "util/error.h"

namespace nagare {

class RequestError : public Error {
 public:
  enum class Kind {
    kInvalid,        // a value out of range; field() names it ("prompt", "top_logprobs", ...)
    kContextLength,  // the prompt plus the output it needs does not fit the context
    kOverloaded,     // the waiting queue is full: a 503, to be retried
  };
  RequestError(Kind kind, std::string field, const std::string& message)
      : Error(message), kind_(kind), field_(std::move(field)) {}
  // kContextLength: the context, the prompt's tokens and the output tokens that had to fit.
  static RequestError context_length(int32_t n_ctx, int32_t prompt_tokens, int32_t output_tokens, bool output_requested);

  Kind kind() const { return kind_; }
  const std::string& field() const { return field_; }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t prompt_tokens() const { return prompt_tokens_; }
  int32_t output_tokens() const { return output_tokens_; }
  bool output_requested() const { return output_requested_; }  // output_tokens is the client's max_tokens

 private:
  Kind kind_;
  std::string field_;
  int32_t n_ctx_ = 0, prompt_tokens_ = 0, output_tokens_ = 0;
  bool output_requested_ = false;
};

inline RequestError RequestError::context_length(int32_t n_ctx, int32_t prompt_tokens, int32_t output_tokens,
                                                 bool output_requested) {
  RequestError e(Kind::kContextLength, "prompt",
                 "the prompt is " + std::to_string(prompt_tokens) + " tokens long and " + std::to_string(output_tokens) +
                     " more must fit after it, more than this model's context of " + std::to_string(n_ctx) +
                     " tokens allows");
  e.n_ctx_ = n_ctx;
  e.prompt_tokens_ = prompt_tokens;
  e.output_tokens_ = output_tokens;
  e.output_requested_ = output_requested;
  return e;
}

}  // namespace nagare
