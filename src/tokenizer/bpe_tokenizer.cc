// BPE encoding of one fragment: decode to code points (malformed UTF-8 becomes U+FFFD, as in
// llama.cpp), split into words, map each word's UTF-8 bytes to the byte alphabet, then merge
// adjacent symbols lowest rank first (ties: leftmost) with a priority queue over linked symbols.
#include "tokenizer/bpe_tokenizer.h"

#include <queue>

#include "tokenizer/char_symbols.h"
#include "tokenizer/unicode.h"

namespace nagare {
namespace {

using Symbol = CharSymbol;

struct Bigram {
  int32_t rank;
  int32_t left, right;
  uint32_t size;
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

void BpeTokenizer::encode_text(std::string_view text, bool /*after_special*/,
                               std::vector<int32_t>& out) const {
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  unicode::decode_utf8(text, cps);
  std::vector<uint16_t> flags(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) flags[i] = unicode::flags(cps[i]);
  std::vector<size_t> words;
  pretokenize(vocab_.pre, cps, flags, words);

  std::string utf8, word, key;
  std::vector<Symbol> symbols;
  std::vector<Bigram> storage;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue(BigramOrder{},
                                                                      std::move(storage));
  size_t cp_pos = 0;
  for (size_t word_len : words) {
    utf8.clear();
    for (size_t i = cp_pos; i < cp_pos + word_len; ++i) unicode::append_utf8(cps[i], utf8);
    cp_pos += word_len;
    word.clear();
    for (unsigned char b : utf8) unicode::append_utf8(unicode::byte_to_codepoint(b), word);
    const std::string_view wv(word);

    if (vocab_.ignore_merges) {
      const int32_t id = vocab_.find(wv);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
    }

    split_into_char_symbols(word, symbols);
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const Symbol& l = symbols[left];
      const Symbol& r = symbols[right];
      key.assign(wv.substr(l.start, l.len));
      key.push_back(' ');
      key.append(wv.substr(r.start, r.len));
      auto it = vocab_.merge_rank.find(std::string_view(key));
      if (it == vocab_.merge_rank.end()) return;
      queue.push({it->second, left, right, l.len + r.len});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
      const Bigram b = queue.top();
      queue.pop();
      Symbol& l = symbols[b.left];
      Symbol& r = symbols[b.right];
      if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;  // stale pair
      l.len += r.len;
      r.len = 0;
      l.next = r.next;
      if (r.next >= 0) symbols[r.next].prev = b.left;
      try_add(l.prev, b.left);
      try_add(b.left, l.next);
    }

    for (int32_t i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
      const Symbol& s = symbols[i];
      const std::string_view piece = wv.substr(s.start, s.len);
      const int32_t id = vocab_.find(piece);
      if (id >= 0) {
        out.push_back(id);
        continue;
      }
      // A merge result missing from the vocab: llama.cpp looks up each byte of the encoded text
      // as a one-character token and drops those it does not find.
      for (char c : piece) {
        const int32_t byte_id = vocab_.find(std::string_view(&c, 1));
        if (byte_id >= 0) out.push_back(byte_id);
      }
    }
  }
}

}  // namespace nagare
