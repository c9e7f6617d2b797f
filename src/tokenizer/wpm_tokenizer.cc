// WordPiece: llama.cpp's llm_tokenizer_wpm_session, step for step, so ids match its.
#include "tokenizer/wpm_tokenizer.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace nagare {
namespace {

// BERT's "Chinese character" ranges, as llama.cpp has them (one bound follows Hugging Face's
// code rather than the Unicode block).
bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x04E00 && cp <= 0x09FFF) || (cp >= 0x03400 && cp <= 0x04DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0x0F900 && cp <= 0x0FAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Words of the text: split at whitespace; punctuation, ASCII symbols and CJK characters are
// words of their own; controls, NUL and U+FFFD dropped; lower-cased and accents stripped as the
// vocabulary's normalizer asks.
std::vector<std::string> split_words(std::string_view text, const Vocab& v) {
  std::vector<uint32_t> cps;
  unicode::decode_utf8(text, cps);
  std::vector<std::string> words(1);
  for (uint32_t cp : cps) {
    if (v.strip_accents) cp = unicode::nfd_base(cp);
    const uint16_t f = unicode::flags(cp);
    if (f & unicode::kWhitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == unicode::kReplacement || (f & unicode::kControl)) continue;
    if (v.strip_accents && (f & unicode::kMark)) continue;
    std::string s;
    unicode::append_utf8(v.lowercase ? unicode::to_lower(cp) : cp, s);
    if ((f & unicode::kPunctuation) || (cp < 0x7F && (f & unicode::kSymbol)) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = std::move(s);
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

WpmTokenizer::WpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {
  for (const std::string& t : vocab_.text) max_token_len_ = std::max(max_token_len_, t.size());
}

void WpmTokenizer::encode_text(std::string_view text, bool /*after_special*/, std::vector<int32_t>& out) const {
  for (const std::string& word : split_words(text, vocab_)) {
    if (word.empty()) continue;
    // A word's first piece carries the phantom space (U+2581) its vocabulary entry starts with;
    // continuation pieces ("##x" in the original vocabulary) are stored bare.
    const std::string w = "\xE2\x96\x81" + word;
    const size_t n = w.size(), start = out.size();
    for (size_t i = 0; i < n; ++i) {
      bool match = false;
      for (size_t j = std::min(n, i + max_token_len_ + 1); j > i; --j) {
        const int32_t id = vocab_.find(std::string_view(w).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          match = true;
          i = j - 1;
          break;
        }
      }
      if (!match) {  // a part of the word has no piece: the whole word is unknown
        out.resize(start);
        break;
      }
    }
    if (out.size() == start && vocab_.unk >= 0) out.push_back(vocab_.unk);
  }
}

}  // namespace nagare
