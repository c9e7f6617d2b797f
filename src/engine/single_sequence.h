// One sequence on a private KV cache: the simplest driver of Model::forward, used by
// `nagare run` and by tests. Keeps its tokens so a new prompt sharing a prefix with the last
// one (the next chat turn) only computes the new part.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace nagare {

class SingleSequence {
 public:
  SingleSequence(Model& model, ThreadPool& pool, int32_t n_ctx, int32_t prefill_chunk = 512);
  // tokens_ reserves n_ctx up front so append() never allocates.

  // Makes the sequence equal `tokens` (reusing the common prefix already computed) and returns
  // the logits after the last token. Throws Error when tokens exceed the context.
  const std::vector<float>& set_tokens(const std::vector<int32_t>& tokens);
  // Appends one token and returns the logits after it.
  const std::vector<float>& append(int32_t token);

  const std::vector<int32_t>& tokens() const { return tokens_; }
  int32_t n_ctx() const { return n_ctx_; }
  int64_t last_computed() const { return last_computed_; }  // tokens computed by the last call

 private:
  void compute(size_t from);  // runs tokens_[from..] through the model
  void check_fits(size_t n) const;

  Model& model_;
  ThreadPool& pool_;
  int32_t n_ctx_, prefill_chunk_;
  KvCache kv_;
  std::vector<int32_t> block_table_;
  std::vector<int32_t> tokens_;
  std::vector<float> logits_;
  Batch batch_;
  int64_t last_computed_ = 0;
};

}  // namespace nagare
