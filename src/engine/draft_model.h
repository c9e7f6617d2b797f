// A draft model for speculative decoding (`--model-draft`): a smaller model with the target's
// vocabulary proposes the next tokens greedily, one small forward per token, and the target
// checks them all in one step (Engine's speculation; output never changes). The draft model keeps
// its own paged KV cache with its own prefix cache, in step with each sequence's verified tokens:
// before drafting, it computes the positions it has not seen yet (the prompt the first time, the
// last accepted tokens after), then its drafts; after verification it forgets the refused ones.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/block_manager.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace nagare {

// One sequence's place in the draft model's KV cache.
struct DraftKv {
  std::vector<int32_t> table;
  int32_t n_computed = 0;  // leading positions whose draft KV holds the sequence's tokens
  int32_t n_registered = 0;
  uint64_t hash = 0;
};

class DraftModel {
 public:
  // Refuses (Error) a draft model whose vocabulary is not the target's, naming both. Room for
  // `n_blocks` blocks of KV and `max_rows` logits rows (drafting sequences per step).
  DraftModel(std::unique_ptr<Model> model, const Tokenizer& target_vocab, const std::string& target_name,
             int32_t n_blocks, int32_t block_size, int32_t max_rows, bool prefix_cache);

  struct Job {
    const std::vector<int32_t>* tokens;  // the sequence's verified tokens
    DraftKv* kv;
    int32_t length;                      // drafts wanted (the step's room for them)
    std::vector<int32_t>* draft;         // appended to; may end shorter (no KV room)
  };
  // Drafts for every job: its unseen positions first (at most `sync_budget` positions for all
  // jobs together; a job left behind drafts nothing this step and catches up in later ones).
  void propose(std::vector<Job>& jobs, int32_t sync_budget, ThreadPool& pool);
  // After verification: positions from `n_valid` on hold refused drafts.
  void rewind(DraftKv& kv, const std::vector<int32_t>& tokens, int32_t n_valid);
  void release(DraftKv& kv);
  // What one draft token costs against one target token: the share of weights it reads.
  double relative_cost(const Model& target) const;

 private:
  std::unique_ptr<Model> model_;
  std::unique_ptr<KvCache> kv_;
  BlockManager blocks_;
  std::vector<float> logits_;
  int32_t max_rows_;
  int32_t vocab_ = 0;  // the tokenizer's tokens (output rows past them are padding)
  Batch batch_;
};

}  // namespace nagare
