// Byte-level BPE tokenizer (tokenizer.ggml.model "gpt2"): pre-tokenizer split, GPT-2 byte
// alphabet, then merges by rank, as llama.cpp's llm_tokenizer_bpe.
#pragma once

#include "tokenizer/tokenizer.h"

namespace nagare {

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {}

 protected:
  void encode_text(std::string_view text, bool after_special,
                   std::vector<int32_t>& out) const override;
};

}  // namespace nagare
