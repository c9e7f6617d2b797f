// What a client asks of the engine (token ids in, text and tokens out) and the thread-safe
// stream through which the engine loop hands results to whoever waits (HTTP handler, CLI).
// Nothing here knows HTTP or JSON: the api layer converts wire formats into GenerateRequest.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/pooling.h"
#include "engine/sampler.h"
#include "engine/sampling_params.h"
#include "grammar/grammar.h"

namespace nagare {

struct GenerateRequest {
  std::vector<int32_t> prompt;         // token ids, template already applied
  SamplingParams sampling;
  int32_t max_tokens = -1;             // -1: until end of generation or the context is full
  int32_t min_tokens = 0;              // end-of-generation tokens are suppressed before this many
  bool ignore_eos = false;             // vLLM's benchmark flag: run to max_tokens
  std::vector<std::string> stop;       // stop strings (not included in the output)
  int32_t top_logprobs = -1;           // -1: no logprobs; 0..20: logprob of the chosen token plus that many alternatives
  // OpenAI's rule: the prompt plus all of max_tokens must fit the context, or the request is
  // refused; without it (Ollama's rule) output stops at the context's end with "length".
  bool max_tokens_must_fit = false;
  // Constrained decoding: only tokens that keep the output a prefix of a sentence of this
  // grammar are sampled, and the output ends where the sentence is complete and cannot go on.
  // The engine compiles it against its vocabulary once per grammar object (reuse the object
  // for the same schema, and the masks computed for one request serve the next).
  std::shared_ptr<const Grammar> grammar;
  // An embedding request: the prompt is run (no output is generated) and the stream delivers its
  // pooled hidden states (RequestStream::embedding) when it finishes with kStop.
  std::optional<EmbeddingParams> embedding;
  // A predicted output (OpenAI's `prediction`): tokens the answer is expected to repeat, searched
  // first for speculative drafts. It never changes the output, only how fast it comes.
  std::vector<int32_t> prediction;
  // Who asked (the API key's user, else the request's "user" field): shown to operators in the
  // list of live requests (Engine::live_requests), never used to compute anything.
  std::string user;
};

// kTimeout: the server's per-request deadline (--request-timeout) passed; what was generated stands.
enum class FinishReason { kNone, kStop, kLength, kCancelled, kError, kTimeout };

// One generated token, with the text it completes (may be empty while a UTF-8 character or a
// possible stop string is pending).
struct TokenEvent {
  int32_t token = -1;
  std::string text;
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;  // filled when top_logprobs >= 0
};

struct RequestStats {
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // served from the prefix cache
  int32_t completion_tokens = 0;
  double queued_ms = 0, prefill_ms = 0, decode_ms = 0;  // time waiting, to first token, after it
  int32_t draft_tokens = 0;           // speculative drafts checked
  int32_t draft_accepted_tokens = 0;  // of which the output took
};

// Shared by the engine (producer) and one consumer. The engine appends events and finally a
// finish; the consumer drains them. notify (if set) is called after every append, from the
// engine thread, and must not block: e.g. it posts a wake-up to the consumer's event loop.
class RequestStream {
 public:
  // --- consumer side ---
  void set_notify(std::function<void()> fn);
  // Moves pending events into `out`; returns true once the request is finished and drained.
  bool drain(std::vector<TokenEvent>& out);
  // Blocks until something is pending or the request finished (for synchronous consumers).
  void wait();
  void cancel() { cancelled_.store(true); }
  FinishReason finish_reason() const;
  std::string error() const;
  RequestStats stats() const;
  // An embedding request's result, set before its finish: n_embd floats, or with pooling none
  // n_embd per prompt token, one token after another.
  std::vector<float> embedding() const;

  // --- engine side ---
  bool cancelled() const { return cancelled_.load(); }
  void push(TokenEvent event);
  void finish(FinishReason reason, const RequestStats& stats, std::string error = "");
  void set_embedding(std::vector<float> v);

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<TokenEvent> events_;
  bool finished_ = false;
  FinishReason reason_ = FinishReason::kNone;
  std::string error_;
  RequestStats stats_;
  std::vector<float> embedding_;
  std::function<void()> notify_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace nagare
