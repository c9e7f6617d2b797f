#include <algorithm>
#include <numeric>

#include "grammar/vocab_trie.h"

namespace nagare {

GrammarVocab::GrammarVocab(std::vector<std::string> token_bytes, std::vector<int32_t> end_ids)
    : impl_(std::make_unique<Impl>()) {
  Impl& v = *impl_;
  v.size = static_cast<int32_t>(token_bytes.size());
  v.words = (token_bytes.size() + 63) / 64;
  v.token_bytes = std::move(token_bytes);
  v.end_bits.assign(v.words, 0);
  v.trie_bits.assign(v.words, 0);
  for (int32_t id : end_ids) {
    if (id < 0 || id >= v.size) continue;
    v.end_ids.push_back(id);
    v.end_bits[static_cast<size_t>(id) >> 6] |= uint64_t(1) << (id & 63);
  }
  std::sort(v.end_ids.begin(), v.end_ids.end());
  v.end_ids.erase(std::unique(v.end_ids.begin(), v.end_ids.end()), v.end_ids.end());

  std::vector<int32_t> order;
  for (int32_t id = 0; id < v.size; ++id) {
    const std::string& b = v.token_bytes[static_cast<size_t>(id)];
    if (b.empty() || b.size() > Impl::kMaxTokenBytes || std::binary_search(v.end_ids.begin(), v.end_ids.end(), id))
      continue;
    order.push_back(id);
    v.trie_bits[static_cast<size_t>(id) >> 6] |= uint64_t(1) << (id & 63);
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return v.token_bytes[static_cast<size_t>(a)] < v.token_bytes[static_cast<size_t>(b)];
  });

  // Sorted order is preorder: each token adds the nodes past its common prefix with the one
  // before, and a node's subtree ends where the path leaves it.
  auto add_node = [&](uint8_t byte, uint32_t depth, uint32_t parent) {
    v.byte.push_back(byte);
    v.depth.push_back(static_cast<uint16_t>(depth));
    v.subtree_end.push_back(0);
    v.parent.push_back(parent);
    v.token_begin.push_back(static_cast<uint32_t>(v.tokens.size()));
    return static_cast<uint32_t>(v.byte.size() - 1);
  };
  std::vector<uint32_t> path{add_node(0, 0, 0)};
  const std::string* prev = nullptr;
  for (int32_t id : order) {
    const std::string& s = v.token_bytes[static_cast<size_t>(id)];
    size_t common = 0;
    if (prev)
      while (common < s.size() && common < prev->size() && s[common] == (*prev)[common]) ++common;
    while (path.size() > common + 1) {
      v.subtree_end[path.back()] = static_cast<uint32_t>(v.byte.size());
      path.pop_back();
    }
    for (size_t d = common; d < s.size(); ++d)
      path.push_back(add_node(static_cast<uint8_t>(s[d]), static_cast<uint32_t>(d + 1), path.back()));
    v.tokens.push_back(id);
    v.max_depth = std::max<uint32_t>(v.max_depth, static_cast<uint32_t>(s.size()));
    prev = &s;
  }
  while (!path.empty()) {
    v.subtree_end[path.back()] = static_cast<uint32_t>(v.byte.size());
    path.pop_back();
  }
  v.token_begin.push_back(static_cast<uint32_t>(v.tokens.size()));
  v.node_token.resize(v.byte.size());
  for (size_t i = 0; i < v.byte.size(); ++i)
    v.node_token[i] = v.token_begin[i] < v.token_begin[i + 1] ? v.tokens[v.token_begin[i]] : v.size;
}

GrammarVocab::~GrammarVocab() = default;

int32_t GrammarVocab::size() const { return impl_->size; }

}  // namespace nagare
