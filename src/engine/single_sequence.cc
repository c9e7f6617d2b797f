#include "engine/single_sequence.h"

#include <algorithm>

#include "util/error.h"

namespace nagare {
namespace {
constexpr int32_t kBlockSize = 16;
}

SingleSequence::SingleSequence(Model& model, ThreadPool& pool, int32_t n_ctx, int32_t prefill_chunk)
    : model_(model),
      pool_(pool),
      n_ctx_(n_ctx),
      prefill_chunk_(std::max(1, prefill_chunk)),
      kv_(model.config(), (n_ctx + kBlockSize - 1) / kBlockSize, kBlockSize),
      logits_(model.config().n_vocab) {
  for (int32_t i = 0; i < kv_.n_blocks(); ++i) block_table_.push_back(i);
  tokens_.reserve(size_t(n_ctx));
}

void SingleSequence::compute(size_t from) {
  const std::vector<int32_t>& tokens = tokens_;
  if (from >= tokens.size()) from = tokens.size() - 1;  // the logits of the last token are needed again
  last_computed_ = int64_t(tokens.size() - from);
  for (size_t start = from; start < tokens.size(); start += size_t(prefill_chunk_)) {
    size_t end = std::min(tokens.size(), start + size_t(prefill_chunk_));
    batch_.clear();
    batch_.sequences.push_back({block_table_.data(), int32_t(block_table_.size())});
    for (size_t i = start; i < end; ++i) batch_.add(tokens[i], int32_t(i), 0, i + 1 == tokens.size());
    model_.forward(batch_, kv_, logits_.data(), pool_);
  }
}

void SingleSequence::check_fits(size_t n) const {
  if (n > size_t(n_ctx_))
    throw Error("the prompt and output (" + std::to_string(n) + " tokens) exceed the context size of " +
                std::to_string(n_ctx_) + " tokens");
}

const std::vector<float>& SingleSequence::set_tokens(const std::vector<int32_t>& tokens) {
  if (tokens.empty()) throw Error("empty prompt");
  size_t common = 0;
  while (common < tokens.size() && common < tokens_.size() && tokens[common] == tokens_[common]) ++common;
  check_fits(tokens.size());
  tokens_ = tokens;
  compute(common);
  return logits_;
}

const std::vector<float>& SingleSequence::append(int32_t token) {
  check_fits(tokens_.size() + 1);
  tokens_.push_back(token);
  compute(tokens_.size() - 1);
  return logits_;
}

}  // namespace nagare
