// Text <-> token ids for a model, built from its GGUF vocabulary. Matches llama.cpp's
// llama_tokenize / llama_token_to_piece / llama_detokenize id for id and byte for byte.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/special_split.h"
#include "tokenizer/vocab.h"

namespace nagare {

class GgufFile;

class Tokenizer {
 public:
  // SentencePiece-style (tokenizer.ggml.model "llama") or byte-level BPE ("gpt2"). Throws Error
  // on an unsupported tokenizer.ggml.model / tokenizer.ggml.pre or a malformed vocabulary.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& file);
  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // As llama_tokenize(text, add_special, parse_special): add_special adds BOS (and EOS) when the
  // vocab asks for them; parse_special turns control-token texts in `text` into their ids
  // (user-defined tokens are always split out). Any bytes are accepted, valid UTF-8 or not.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // Bytes of one token as llama_token_to_piece(id, lstrip=0, special). Control and unknown
  // tokens give "" unless `special`. An id out of range gives "".
  std::string token_to_piece(int32_t id, bool special) const {
    return std::string(piece_view(id, special));
  }
  // Same without allocating; the view lives as long as the Tokenizer.
  std::string_view piece_view(int32_t id, bool special) const;

  // As llama_detokenize(ids, remove_special=false, unparse_special=special): the pieces joined,
  // minus the leading space SPM vocabs with add_space_prefix put on the first word, with
  // clean-up of " ." etc. for vocabs that ask for it.
  std::string decode(const std::vector<int32_t>& ids, bool special) const;

  int32_t vocab_size() const { return vocab_.size(); }
  int32_t bos_id() const { return vocab_.bos; }  // -1 when absent
  int32_t eos_id() const { return vocab_.eos; }  // -1 when absent
  bool add_bos() const { return vocab_.add_bos; }
  bool add_eos() const { return vocab_.add_eos; }
  // eos, eot and the other end-of-turn tokens (<|im_end|>, <end_of_turn>, ...): llama_vocab_is_eog.
  bool is_end_of_generation(int32_t id) const {
    return id >= 0 && id < vocab_size() && vocab_.is_eog[id];
  }
  // Exact vocabulary text lookup (the raw text, e.g. "▁the" or "Ġthe").
  std::optional<int32_t> find_token(std::string_view text) const;
  // Raw vocabulary text of a token ("" when out of range).
  const std::string& token_text(int32_t id) const;
  // Control or unknown token (its piece is hidden unless special).
  bool is_control(int32_t id) const;
  const Vocab& vocab() const { return vocab_; }

 protected:
  explicit Tokenizer(Vocab vocab) : vocab_(std::move(vocab)), splitter_(vocab_) {}
  // Tokenizes one raw-text fragment (no special tokens in it) onto `out`. `after_special` is
  // true at the start of the text and right after a special token.
  virtual void encode_text(std::string_view text, bool after_special,
                           std::vector<int32_t>& out) const = 0;

  Vocab vocab_;
  SpecialSplitter splitter_;
};

}  // namespace nagare
