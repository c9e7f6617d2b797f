// llama.cpp partitions text by trying each special token in turn (longest text first; ties in
// std::sort's order) against every remaining raw fragment, taking leftmost non-overlapping
// matches. Equivalently: find every occurrence of every special text, then visit them ordered by
// (token rank, position) and accept each one that still lies entirely in unclaimed text. One
// trie pass finds the occurrences (instead of one pass per special token: gemma3 has ~6,400).
// To keep memory linear even for text that is one long run of special texts (gemma3 has tokens
// for runs of up to 31 spaces), occurrences are kept as a bitmask of lengths per position, and
// visited length by length (ranks are sorted by length, so this is rank order).
#include "tokenizer/special_split.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace nagare {
namespace {

constexpr size_t kMaskBits = 64;  // lengths 1..64 go in the per-position mask

struct Hit {
  int32_t rank;
  uint32_t pos;
};

}  // namespace

SpecialSplitter::SpecialSplitter(const Vocab& vocab) : vocab_(vocab) {
  std::fill(std::begin(root_), std::end(root_), -1);
  // Build with a map of edges, then lay the edges out per node for fast lookups.
  std::unordered_map<uint64_t, int32_t> edges;  // (node << 8 | byte) -> child
  nodes_.emplace_back();
  for (size_t rank = 0; rank < vocab.special_order.size(); ++rank) {
    const int32_t id = vocab.special_order[rank];
    const std::string& t = vocab.text[id];
    if (tokens_of_length_.size() <= t.size()) tokens_of_length_.resize(t.size() + 1, 0);
    ++tokens_of_length_[t.size()];
    int32_t node = 0;
    for (unsigned char c : t) {
      const uint64_t key = (static_cast<uint64_t>(node) << 8) | c;
      auto it = edges.find(key);
      if (it == edges.end()) {
        it = edges.emplace(key, static_cast<int32_t>(nodes_.size())).first;
        nodes_.emplace_back();
      }
      node = it->second;
    }
    Node& n = nodes_[node];
    // Ranks are visited in increasing order, so the first token with this text keeps the node.
    if (n.rank_all < 0) n.rank_all = static_cast<int32_t>(rank);
    if (n.rank_text < 0 && !(vocab.attr[id] & (kAttrControl | kAttrUnknown))) {
      n.rank_text = static_cast<int32_t>(rank);
    }
  }
  std::vector<std::pair<uint64_t, int32_t>> sorted(edges.begin(), edges.end());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, child_node] : sorted) {
    const auto parent = static_cast<int32_t>(key >> 8);
    const auto byte = static_cast<uint8_t>(key & 0xFF);
    if (parent == 0) {
      root_[byte] = child_node;
      continue;
    }
    Node& n = nodes_[parent];
    if (n.n_edges == 0) n.first_edge = static_cast<uint32_t>(edges_.size());
    edges_.push_back({byte, child_node});
    ++n.n_edges;
  }
}

int32_t SpecialSplitter::rank_at(std::string_view text, size_t pos, size_t len,
                                 bool parse_special) const {
  int32_t node = 0;
  for (size_t k = 0; k < len && node >= 0; ++k) node = child(node, static_cast<uint8_t>(text[pos + k]));
  if (node < 0) return -1;
  return parse_special ? nodes_[node].rank_all : nodes_[node].rank_text;
}

void SpecialSplitter::split(std::string_view text, bool parse_special,
                            std::vector<Fragment>& out) const {
  out.clear();
  if (text.empty()) return;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();

  std::vector<uint64_t> lengths;       // bit L-1 set: a special text of length L starts here
  std::vector<int32_t> longest_rank;   // rank of the longest of them (saves a lookup later)
  std::vector<Hit> long_hits;          // texts longer than kMaskBits
  uint64_t all_lengths = 0;
  for (size_t i = 0; i < n; ++i) {
    int32_t node = root_[p[i]];
    for (size_t j = i; node >= 0;) {
      const int32_t rank = parse_special ? nodes_[node].rank_all : nodes_[node].rank_text;
      if (rank >= 0) {
        const size_t len = j - i + 1;
        if (len <= kMaskBits) {
          if (lengths.empty()) {
            lengths.assign(n, 0);
            longest_rank.assign(n, -1);
          }
          lengths[i] |= uint64_t(1) << (len - 1);
          longest_rank[i] = rank;
          all_lengths |= uint64_t(1) << (len - 1);
        } else {
          long_hits.push_back({rank, static_cast<uint32_t>(i)});
        }
      }
      if (++j >= n) break;
      node = child(node, p[j]);
    }
  }
  if (lengths.empty() && long_hits.empty()) {
    out.push_back({-1, 0, n});
    return;
  }

  std::vector<int32_t> token_at(n, -1);  // id of the special token accepted at a position
  std::vector<uint8_t> claimed(n, 0);     // bytes covered by accepted tokens
  // Hits are accepted longest first, so every claimed run is at least as long as the hit being
  // checked: if one overlaps [pos, pos + len) it covers pos or pos + len - 1.
  auto is_free = [&](size_t pos, size_t len) { return !claimed[pos] && !claimed[pos + len - 1]; };
  auto accept = [&](const Hit& h) {
    const int32_t id = vocab_.special_order[h.rank];
    const size_t len = vocab_.text[id].size();
    if (!is_free(h.pos, len)) return;
    std::fill(claimed.begin() + h.pos, claimed.begin() + h.pos + len, 1);
    token_at[h.pos] = id;
  };
  auto by_rank_then_pos = [](const Hit& a, const Hit& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos;
  };

  // Longer than any mask bit: these have the lowest ranks, so they go first. (Among themselves
  // lengths differ, so check every byte rather than the ends.)
  std::sort(long_hits.begin(), long_hits.end(), by_rank_then_pos);
  for (const Hit& h : long_hits) {
    const int32_t id = vocab_.special_order[h.rank];
    const size_t len = vocab_.text[id].size();
    if (std::find(claimed.begin() + h.pos, claimed.begin() + h.pos + len, 1) !=
        claimed.begin() + h.pos + len) {
      continue;
    }
    std::fill(claimed.begin() + h.pos, claimed.begin() + h.pos + len, 1);
    token_at[h.pos] = id;
  }

  std::vector<Hit> hits;
  for (size_t len = kMaskBits; len >= 1 && !lengths.empty(); --len) {
    const uint64_t bit = uint64_t(1) << (len - 1);
    if (!(all_lengths & bit)) continue;
    hits.clear();
    const bool one_token = tokens_of_length_[len] == 1;
    for (size_t i = 0; i + len <= n; ++i) {
      // Skip hits already covered by longer tokens before paying for their rank.
      if (!(lengths[i] & bit) || !is_free(i, len)) continue;
      // With one token of this length every hit has its rank; otherwise look it up.
      const bool longest = len == kMaskBits || (lengths[i] >> len) == 0;
      const int32_t rank = one_token ? 0
                           : longest ? longest_rank[i]
                                     : rank_at(text, i, len, parse_special);
      hits.push_back({rank, static_cast<uint32_t>(i)});
    }
    if (hits.empty()) continue;
    if (one_token) {
      const int32_t rank = rank_at(text, hits.front().pos, len, parse_special);
      for (Hit& h : hits) h.rank = rank;
    } else {
      std::sort(hits.begin(), hits.end(), by_rank_then_pos);
    }
    for (const Hit& h : hits) accept(h);
  }

  size_t raw_begin = 0;
  size_t i = 0;
  while (i < n) {
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
  if (raw_begin < n) out.push_back({-1, raw_begin, n});
}

}  // namespace nagare
