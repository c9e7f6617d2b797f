// SPM encoding: spaces become U+2581, the text is split into UTF-8 characters, and adjacent
// symbols are merged greedily, highest-scoring vocabulary token first (ties: leftmost), with a
// priority queue over a linked list of symbols. Symbols left that are not tokens fall back to
// <0xNN> byte tokens.
#include "tokenizer/spm_tokenizer.h"

#include <queue>

#include "tokenizer/char_symbols.h"
#include "tokenizer/unicode.h"

namespace nagare {
namespace {

using Symbol = CharSymbol;

struct Bigram {
  float score;
  int32_t left, right;
  uint32_t size;
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void SpmTokenizer::encode_text(std::string_view raw, bool after_special,
                               std::vector<int32_t>& out) const {
  std::string text;
  text.reserve(raw.size() * 2 + 3);
  if (vocab_.add_space_prefix && after_special) text += "\xE2\x96\x81";
  for (char c : raw) {
    if (c == ' ') {
      text += "\xE2\x96\x81";
    } else {
      text.push_back(c);
    }
  }

  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  split_into_char_symbols(text, symbols);
  if (symbols.empty()) return;

  std::vector<Bigram> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue(BigramOrder{},
                                                                      std::move(storage));
  const std::string_view tv(text);
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const uint32_t size = l.len + symbols[right].len;
    const int32_t id = vocab_.find(tv.substr(l.start, size));
    if (id < 0) return;
    queue.push({vocab_.score[id], left, right, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    // Stale: one side was merged elsewhere since this pair was queued.
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    const int32_t id = vocab_.find(tv.substr(s.start, s.len));
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Only single characters can be left unknown (merges always form tokens): spell them out.
    for (uint32_t k = 0; k < s.len; ++k) {
      const int32_t byte_id = vocab_.byte_token[static_cast<uint8_t>(text[s.start + k])];
      if (byte_id >= 0) {
        out.push_back(byte_id);
      } else if (vocab_.unk >= 0) {
        out.push_back(vocab_.unk);
      }
    }
  }
}

}  // namespace nagare
