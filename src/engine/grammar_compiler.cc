#include "engine/grammar_compiler.h"

#include <cmath>
#include <string>
#include <vector>

namespace nagare {

std::shared_ptr<const CompiledGrammar> GrammarCompiler::compile(const std::shared_ptr<const Grammar>& grammar) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = compiled_.begin(); it != compiled_.end(); ++it) {
    if (it->first == grammar) {
      compiled_.splice(compiled_.begin(), compiled_, it);
      return it->second;
    }
  }
  if (!vocab_) {
    // A token's bytes as the engine emits them: control tokens produce no text, so a grammar
    // never allows them; the end-of-generation ones end a complete sentence.
    const int32_t n = tokenizer_.vocab_size();
    std::vector<std::string> bytes(static_cast<size_t>(n));
    std::vector<int32_t> end_ids;
    for (int32_t id = 0; id < n; ++id) {
      if (!tokenizer_.is_control(id)) bytes[size_t(id)] = tokenizer_.piece_view(id, false);
      if (tokenizer_.is_end_of_generation(id)) end_ids.push_back(id);
    }
    vocab_ = std::make_shared<const GrammarVocab>(std::move(bytes), std::move(end_ids));
  }
  auto compiled = std::make_shared<const CompiledGrammar>(grammar, vocab_);
  compiled_.emplace_front(grammar, compiled);
  if (compiled_.size() > kMaxCompiled) compiled_.pop_back();
  return compiled;
}

void apply_token_mask(const uint64_t* mask, float* logits, int32_t n_vocab) {
  const int32_t words = (n_vocab + 63) / 64;
  for (int32_t w = 0; w < words; ++w) {
    uint64_t off = ~mask[w];
    if (w == words - 1 && n_vocab % 64) off &= (uint64_t(1) << (n_vocab % 64)) - 1;
    while (off) {
      logits[w * 64 + __builtin_ctzll(off)] = -INFINITY;
      off &= off - 1;
    }
  }
}

}  // namespace nagare
