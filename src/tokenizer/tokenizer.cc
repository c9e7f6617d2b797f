// Tokenizer: special-token partition, BOS/EOS rules and detokenization shared by SPM and BPE.
#include "tokenizer/tokenizer.h"

#include "gguf/gguf_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/wpm_tokenizer.h"

namespace nagare {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& file) {
  Vocab vocab = Vocab::load(file);
  if (vocab.kind == Vocab::Kind::kSpm) return std::make_unique<SpmTokenizer>(std::move(vocab));
  if (vocab.kind == Vocab::Kind::kWpm) return std::make_unique<WpmTokenizer>(std::move(vocab));
  return std::make_unique<BpeTokenizer>(std::move(vocab));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  std::vector<Fragment> fragments;
  splitter_.split(text, parse_special, fragments);
  bool after_special = true;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_text(text.substr(f.begin, f.end - f.begin), after_special, out);
      after_special = false;
    }
  }
  if (add_special && vocab_.add_sep && vocab_.sep >= 0) out.push_back(vocab_.sep);
  if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

std::string_view Tokenizer::piece_view(int32_t id, bool special) const {
  if (id < 0 || id >= vocab_size()) return {};
  if (!special && (vocab_.attr[id] & (kAttrUnknown | kAttrControl))) return {};
  return vocab_.piece(id);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool special) const {
  std::string text;
  bool remove_space = vocab_.add_space_prefix;
  for (int32_t id : ids) {
    std::string_view piece = piece_view(id, special);
    if (remove_space && !piece.empty() && piece[0] == ' ') piece.remove_prefix(1);
    remove_space = false;
    text.append(piece);
  }
  if (!vocab_.clean_spaces || text.empty()) return text;

  // llama.cpp's three clean-up passes, in place.
  // 1: " ?", " !", " .", " ," lose the space.
  size_t total = 1;
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    text[total++] = x;
  }
  text.resize(total);
  // 2: a lone apostrophe between spaces, " ' ", loses both spaces.
  total = 1;
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (x == '\'' && i + 1 < text.size() && text[i - 1] == ' ' && text[i + 1] == ' ') {
      --total;
      text[++i] = '\0';
    }
    text[total++] = x;
  }
  text.resize(total);
  // 3: contractions " 's", " 'm", " 're", " 've" lose the space.
  total = 1;
  for (size_t i = 1; i < text.size(); ++i) {
    const char x = text[i];
    if (text[i - 1] == ' ' && x == '\'' && i + 1 < text.size()) {
      const char x1 = text[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (i + 2 < text.size()) {
        const char x2 = text[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    text[total++] = x;
  }
  text.resize(total);
  return text;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  const int32_t id = vocab_.find(text);
  if (id < 0) return std::nullopt;
  return id;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < vocab_size() ? vocab_.text[id] : kEmpty;
}

bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && id < vocab_size() && (vocab_.attr[id] & (kAttrUnknown | kAttrControl));
}

}  // namespace nagare
