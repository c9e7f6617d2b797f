// The engine's state of one request: its tokens, KV blocks, progress, sampler and text output.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/draft_model.h"
#include "engine/block_manager.h"
#include "engine/draft_policy.h"
#include "engine/request.h"
#include "engine/sampler.h"
#include "engine/stop_matcher.h"
#include "engine/utf8_stream.h"

namespace nagare {

using SteadyClock = std::chrono::steady_clock;

struct Sequence {
  Sequence(GenerateRequest r, std::shared_ptr<RequestStream> s, int32_t vocab_size)
      : request(std::move(r)),
        stream(std::move(s)),
        sampler(request.sampling, vocab_size),
        stop(request.stop),
        queued_at(SteadyClock::now()) {
    tokens = request.prompt;
  }

  GenerateRequest request;
  std::shared_ptr<RequestStream> stream;
  Sampler sampler;
  Utf8Stream utf8;
  StopMatcher stop;
  std::optional<GrammarMatcher> grammar;  // when the request is constrained
  Pooler pooler;                    // an embedding request's pooled hidden states
  uint64_t arrival = 0;             // FCFS order; later arrivals are preempted first

  std::vector<int32_t> tokens;      // prompt + generated
  BlockTables kv_blocks;
  int32_t n_computed = 0;           // leading tokens whose KV is in the cache
  int32_t n_registered_blocks = 0;  // leading full blocks registered in the prefix cache
  uint64_t chain_hash = 0;
  int32_t n_generated = 0;
  int32_t max_tokens = 0;           // resolved against the context size
  int32_t scheduled = 0;            // tokens in this step's batch, drafts included
  std::vector<int32_t> draft;       // this step's speculative tokens after `tokens`
  std::vector<int32_t> prediction;  // the request's predicted output led by the prompt's last tokens
  DraftKv draft_kv;                 // its place in the draft model's KV cache (--model-draft)
  // How many drafts pay, from this sequence's hits and misses: prompt lookup's (even odds until
  // it has been tried), the draft model's (a same-vocabulary draft model is right more often than not).
  DraftPolicy lookup_policy{1, 1}, model_policy{3, 1};
  bool drafts_from_model = false;   // this step's drafts came from the draft model
  bool admitted = false;

  RequestStats stats;
  SteadyClock::time_point queued_at, started_at, first_token_at;
  std::string text;                 // scratch for this step's output text
};

}  // namespace nagare
