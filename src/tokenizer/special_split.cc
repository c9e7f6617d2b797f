// llama.cpp partitions text by trying each special token in turn (longest text first) against
// every remaining raw fragment, taking leftmost non-overlapping matches. Equivalently: find every
// occurrence of every special text with a trie, then visit them ordered by (token rank,
// position) and accept each one that still lies entirely in unclaimed text. That costs one pass
// over the text instead of one per special token (gemma3 has ~6,400).
#include "tokenizer/special_split.h"

#include <algorithm>

namespace nagare {

SpecialSplitter::SpecialSplitter(const Vocab& vocab) : vocab_(vocab) {
  nodes_.emplace_back();
  for (size_t rank = 0; rank < vocab.special_order.size(); ++rank) {
    const int32_t id = vocab.special_order[rank];
    const std::string& t = vocab.text[id];
    int32_t node = 0;
    for (unsigned char c : t) {
      const uint64_t key = (static_cast<uint64_t>(node) << 8) | c;
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        nodes_.emplace_back();
        it = edges_.emplace(key, static_cast<int32_t>(nodes_.size() - 1)).first;
      }
      node = it->second;
    }
    first_byte_[static_cast<unsigned char>(t[0])] = true;
    Node& n = nodes_[node];
    // Ranks are visited in increasing order, so the first token with this text keeps the node.
    if (n.rank_all < 0) n.rank_all = static_cast<int32_t>(rank);
    if (n.rank_text < 0 && !(vocab.attr[id] & (kAttrControl | kAttrUnknown))) {
      n.rank_text = static_cast<int32_t>(rank);
    }
  }
}

void SpecialSplitter::split(std::string_view text, bool parse_special,
                            std::vector<Fragment>& out) const {
  out.clear();
  if (text.empty()) return;
  struct Hit {
    int32_t rank;
    uint32_t pos;
  };
  std::vector<Hit> hits;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  for (size_t i = 0; i < text.size(); ++i) {
    if (!first_byte_[p[i]]) continue;
    int32_t node = 0;
    for (size_t j = i; j < text.size(); ++j) {
      node = child(node, p[j]);
      if (node < 0) break;
      const int32_t rank = parse_special ? nodes_[node].rank_all : nodes_[node].rank_text;
      if (rank >= 0) hits.push_back({rank, static_cast<uint32_t>(i)});
    }
  }
  if (hits.empty()) {
    out.push_back({-1, 0, text.size()});
    return;
  }
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
  });
  // token_at[i] = id of the special token accepted at i, or -1; claimed[i] marks bytes it covers.
  std::vector<int32_t> token_at(text.size(), -1);
  std::vector<uint8_t> claimed(text.size(), 0);
  for (const Hit& h : hits) {
    const int32_t id = vocab_.special_order[h.rank];
    const size_t len = vocab_.text[id].size();
    bool free = true;
    for (size_t k = h.pos; k < h.pos + len; ++k) {
      if (claimed[k]) {
        free = false;
        break;
      }
    }
    if (!free) continue;
    std::fill(claimed.begin() + h.pos, claimed.begin() + h.pos + len, 1);
    token_at[h.pos] = id;
  }
  size_t raw_begin = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (token_at[i] < 0) {
      ++i;
      continue;
    }
    if (i > raw_begin) out.push_back({-1, raw_begin, i});
    const int32_t id = token_at[i];
    out.push_back({id, i, i + vocab_.text[id].size()});
    i += vocab_.text[id].size();
    raw_begin = i;
  }
  if (raw_begin < text.size()) out.push_back({-1, raw_begin, text.size()});
}

}  // namespace nagare
