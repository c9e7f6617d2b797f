// WordPiece tokenizer (tokenizer.ggml.model "bert"), as llama.cpp's WPM tokenizer: normalize and
// split into words, then greedy longest-match pieces per word ("##" continuations stored bare).
#pragma once

#include "tokenizer/tokenizer.h"

namespace nagare {

class WpmTokenizer final : public Tokenizer {
 public:
  explicit WpmTokenizer(Vocab vocab);

 protected:
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;

 private:
  size_t max_token_len_ = 0;  // bytes of the longest token text: the longest match to try
};

}  // namespace nagare
