#include "engine/draft_model.h"

#include <algorithm>

#include "util/error.h"

namespace nagare {
namespace {

// Greedy: the first of the highest logits among the vocabulary's tokens.
int32_t argmax(const float* row, int32_t n) {
  return int32_t(std::max_element(row, row + n) - row);
}

}  // namespace

DraftModel::DraftModel(std::unique_ptr<Model> model, const Tokenizer& target_vocab, const std::string& target_name,
                       int32_t n_blocks, int32_t block_size, int32_t max_rows, bool prefix_cache)
    : model_(std::move(model)), blocks_(n_blocks, block_size, prefix_cache), max_rows_(std::max(max_rows, 1)) {
  const ModelConfig& c = model_->config();
  if (c.encoder) throw Error("the draft model is an encoder (" + c.arch + "): it cannot generate");
  const auto draft_vocab = Tokenizer::from_gguf(model_->file());
  const int32_t n = target_vocab.vocab_size();
  auto refuse = [&](const std::string& why) {
    throw Error("the draft model's vocabulary (" + std::to_string(draft_vocab->vocab_size()) + " tokens, " + c.arch +
                ") is not the target's (" + std::to_string(n) + " tokens, " + target_name + "): " + why +
                "; a draft model must share the target's tokenizer");
  };
  if (draft_vocab->vocab_size() != n) refuse("their sizes differ");
  for (int32_t id = 0; id < n; ++id)
    if (draft_vocab->token_text(id) != target_vocab.token_text(id))
      refuse("token " + std::to_string(id) + " is '" + draft_vocab->token_text(id) + "' in one, '" +
             target_vocab.token_text(id) + "' in the other");
  vocab_ = std::min(n, c.n_vocab);
  kv_ = std::make_unique<KvCache>(c, n_blocks, block_size);
  logits_.resize(size_t(max_rows_) * size_t(c.n_vocab));
}

void DraftModel::propose(std::vector<Job>& jobs, int32_t sync_budget, ThreadPool& pool) {
  const size_t n_vocab = size_t(model_->config().n_vocab);
  // 1. Each job's unseen positions, the last one's logits giving its first draft.
  batch_.clear();
  std::vector<size_t> drafting;  // jobs whose first draft this batch gives, in logits-row order
  for (size_t i = 0; i < jobs.size() && drafting.size() < size_t(max_rows_); ++i) {
    Job& j = jobs[i];
    DraftKv& kv = *j.kv;
    const int32_t n_tokens = int32_t(j.tokens->size());
    if (kv.table.empty()) kv.n_computed = blocks_.match_prefix(*j.tokens, n_tokens - 1, kv.table);
    const int32_t unseen = n_tokens - kv.n_computed;
    const int32_t take = std::min(unseen, sync_budget);
    // Room for the unseen positions and all but the last draft (the last is never fed back).
    if (take <= 0 || !blocks_.grow(kv.table, kv.n_computed + take + (take == unseen ? j.length - 1 : 0))) {
      j.length = 0;
      continue;
    }
    sync_budget -= take;
    const bool drafts = take == unseen && j.length > 0;
    const int32_t seq = int32_t(batch_.sequences.size());
    batch_.sequences.push_back({kv.table.data(), int32_t(kv.table.size())});
    for (int32_t p = kv.n_computed; p < kv.n_computed + take; ++p)
      batch_.add((*j.tokens)[size_t(p)], p, seq, drafts && p + 1 == n_tokens);
    kv.n_computed += take;
    blocks_.register_full_blocks(*j.tokens, kv.n_computed, kv.table, kv.n_registered, kv.hash);
    if (drafts) drafting.push_back(i);
    else j.length = 0;
  }
  if (batch_.size() == 0) return;
  model_->forward(batch_, *kv_, logits_.data(), pool);
  for (size_t r = 0; r < drafting.size(); ++r) jobs[drafting[r]].draft->push_back(argmax(logits_.data() + r * n_vocab, vocab_));

  // 2. One token at a time for the jobs that want more: each draft fed back gives the next.
  for (int32_t step = 1;; ++step) {
    batch_.clear();
    std::vector<size_t> next;
    for (size_t i : drafting) {
      Job& j = jobs[i];
      if (j.length <= step) continue;
      const int32_t seq = int32_t(batch_.sequences.size());
      batch_.sequences.push_back({j.kv->table.data(), int32_t(j.kv->table.size())});
      batch_.add(j.draft->back(), j.kv->n_computed, seq, true);
      j.kv->n_computed++;  // a draft position: rewind() forgets it if the target refuses it
      next.push_back(i);
    }
    if (next.empty()) return;
    model_->forward(batch_, *kv_, logits_.data(), pool);
    for (size_t r = 0; r < next.size(); ++r) jobs[next[r]].draft->push_back(argmax(logits_.data() + r * n_vocab, vocab_));
    drafting = std::move(next);
  }
}

void DraftModel::rewind(DraftKv& kv, const std::vector<int32_t>& tokens, int32_t n_valid) {
  kv.n_computed = std::min(kv.n_computed, n_valid);
  blocks_.register_full_blocks(tokens, kv.n_computed, kv.table, kv.n_registered, kv.hash);
}

void DraftModel::release(DraftKv& kv) {
  blocks_.release(kv.table);
  kv.n_computed = kv.n_registered = 0;
  kv.hash = 0;
}

double DraftModel::relative_cost(const Model& target) const {
  return double(model_->weight_bytes_per_token()) / double(std::max<size_t>(1, target.weight_bytes_per_token()));
}

}  // namespace nagare
