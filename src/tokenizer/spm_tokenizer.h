// SentencePiece-style tokenizer (tokenizer.ggml.model "llama"): llama.cpp's bigram merge by
// score with byte fallback, as used by llama 2 and gemma3 vocabularies.
#pragma once

#include "tokenizer/tokenizer.h"

namespace nagare {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {}

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>& out) const override;
};

}  // namespace nagare
