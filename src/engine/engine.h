// The serving engine of one model: a scheduler thread doing continuous batching with chunked
// prefill over a paged KV cache with automatic prefix caching. Clients submit requests from any
// thread and read results from their RequestStream.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/prompt_lookup.h"
#include "engine/request.h"
#include "engine/request_error.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace nagare {

// EngineOptions::n_ctx values other than a token count.
inline constexpr int32_t kTrainedContext = 0;   // the model's training context (`-c 0`)
inline constexpr int32_t kDefaultContext = -1;  // min(4096, the model's training context)

// The context size n_ctx asks for on this model.
int32_t resolve_context(int32_t n_ctx, const ModelConfig& config);

struct EngineOptions {
  int32_t n_ctx = 4096;                 // most tokens (prompt + output) of one request, or one of the above
  size_t kv_cache_bytes = 0;            // 0: room for max(n_ctx, 4 requests of 2048 tokens)
  int32_t block_size = 16;              // tokens per KV block
  int32_t max_batch_tokens = 512;       // tokens per forward step (decodes + prefill chunks)
  int32_t max_running = 64;             // sequences decoding at once
  double request_timeout_s = 0;         // a request still running this long after it arrived ends
                                        // with FinishReason::kTimeout; 0: no deadline
  int32_t max_waiting = 0;              // requests queued beyond the running ones; past it submit()
                                        // refuses (RequestError kOverloaded); 0: no bound
  bool prefix_cache = true;
  // Keep every position of the sliding-window layers (llama.cpp's --swa-full). By default a
  // model with both kinds of layer keeps its sliding-window layers' blocks apart and holds only
  // each sequence's window of them (KvCache::with_separate_windows): a long sequence then needs a
  // fraction of the memory (Gemma 3: a fifth), and a cached prefix is reused only where its
  // window's blocks are cached too.
  bool swa_full = false;
  KvTypes kv_types;  // what the KV cache stores keys and values as (--cache-type-k / -v)
  // Speculative decoding by prompt lookup: up to draft_max tokens proposed per decoding sequence
  // (prompt_lookup.h) and checked in the same forward; 0: off. Output never changes: each token
  // is still sampled from the model's own logits, and a draft counts only while it is the token
  // sampled. Drafts go only into steps of at most draft_step_tokens tokens, where the machine has
  // compute to spare (a full batch gains nothing from them).
  int32_t draft_max = 8;
  int32_t draft_step_tokens = 16;
  // A draft token's cost as a fraction of a one-token step's (draft_policy.h): 0.17-0.29 measured
  // on these CPUs' small models at depths 0 and 1,400 (a step's weights are read once for all its
  // tokens; `nagare bench-model -p 1,2,4,8 -d D`).
  double draft_token_cost = 0.25;
  PromptLookupOptions lookup;
  int32_t threads = 0;                  // 0: physical cores
  // Embedding requests' pooling when they name none; nullopt: the model's (model_pooling: its
  // GGUF's pooling_type, else mean). The engine's options() always hold the one it resolved.
  std::optional<Pooling> pooling;
};

struct EngineStats {
  int32_t running = 0;
  int32_t waiting = 0;
  int32_t kv_blocks_total = 0;
  int32_t kv_blocks_in_use = 0;         // referenced by a live sequence
  int32_t kv_blocks_cached = 0;         // unreferenced but kept for prefix reuse
  uint64_t prompt_tokens = 0;           // prompt tokens computed (not those the prefix cache served)
  uint64_t prefix_cache_queries = 0;    // prompt tokens looked up in the prefix cache (each request once)
  uint64_t prefix_cache_hit_tokens = 0; // of which it served
  uint64_t generated_tokens = 0;
  uint64_t preemptions = 0;
  uint64_t steps = 0;
  uint64_t draft_tokens = 0;            // proposed by speculation and checked
  uint64_t draft_accepted_tokens = 0;   // of which the model sampled the same token
};

// One request the engine holds now, as an operator sees it (/v1/engine/requests, the dashboard).
struct LiveRequest {
  enum class State { kWaiting, kPrefill, kDecode };
  uint64_t id = 0;                 // arrival order in this engine
  std::string user;                // GenerateRequest::user
  State state = State::kWaiting;
  std::chrono::steady_clock::time_point queued_at;
  int32_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
};

class Engine {
 public:
  // draft_model (optional): a smaller model with the same vocabulary that drafts speculative
  // tokens where prompt lookup finds none (draft_model.h); refused (Error) with another vocabulary.
  Engine(std::unique_ptr<Model> model, std::unique_ptr<Tokenizer> tokenizer, const EngineOptions& options,
         std::unique_ptr<Model> draft_model = nullptr);
  ~Engine();  // cancels every request and joins the scheduler thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request (first come, first served). Throws RequestError for a request that can
  // never run: an empty prompt, a token outside the vocabulary, a prompt and the output it needs
  // (one token, min_tokens, max_tokens when max_tokens_must_fit) beyond n_ctx, bad sampling
  // parameters; an embedding request (GenerateRequest::embedding) needs only its prompt to fit.
  // The one place a request's limits are checked.
  std::shared_ptr<RequestStream> submit(GenerateRequest request);

  EngineStats stats() const;
  // The requests running and waiting, as of the end of the last step (running first).
  std::vector<LiveRequest> live_requests() const;
  const Model& model() const;
  const Tokenizer& tokenizer() const;
  const EngineOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nagare
