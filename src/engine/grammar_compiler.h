// Binds request grammars to one engine's vocabulary: the vocabulary's byte strings built once,
// and each grammar compiled once and kept (LRU) so the masks one request computed serve the next
// request with the same grammar object.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <utility>

#include "grammar/grammar.h"
#include "tokenizer/tokenizer.h"

namespace nagare {

class GrammarCompiler {
 public:
  // `tokenizer` must outlive this object.
  explicit GrammarCompiler(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  // Thread-safe. Throws GrammarError for a grammar that exceeds the limits against this vocabulary.
  std::shared_ptr<const CompiledGrammar> compile(const std::shared_ptr<const Grammar>& grammar);

  static constexpr size_t kMaxCompiled = 16;  // each holds up to 24 MiB of masks

 private:
  const Tokenizer& tokenizer_;
  std::mutex mutex_;
  std::shared_ptr<const GrammarVocab> vocab_;  // built on first use
  // Most recently used first; the Grammar is held so its address stays a valid key.
  std::list<std::pair<std::shared_ptr<const Grammar>, std::shared_ptr<const CompiledGrammar>>> compiled_;
};

// Sets the logit of every token the mask leaves out to -inf (bit i of mask[i / 64]: token i).
void apply_token_mask(const uint64_t* mask, float* logits, int32_t n_vocab);

}  // namespace nagare
