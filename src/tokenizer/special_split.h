// Splits text on special-token texts before tokenization, reproducing llama.cpp's
// tokenizer_st_partition (longest special first, leftmost matches) in one trie pass.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace nagare {

// A piece of the input: either a special token, or raw text [begin, end) to tokenize.
struct Fragment {
  int32_t token;  // -1 for raw text
  size_t begin, end;
};

class SpecialSplitter {
 public:
  explicit SpecialSplitter(const Vocab& vocab);

  // With parse_special false only user-defined tokens split the text (control and unknown ones
  // are left as text), as in llama.cpp. Memory is O(text size) whatever the text.
  void split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

 private:
  struct Node {
    int32_t rank_all = -1;   // best rank (index in vocab.special_order) ending here
    int32_t rank_text = -1;  // same, among tokens split when parse_special is false
    uint32_t first_edge = 0, n_edges = 0;  // children: edges_[first_edge, +n_edges)
  };
  struct Edge {
    uint8_t byte;
    int32_t child;
  };
  int32_t child(int32_t node, uint8_t byte) const {
    if (node == 0) return root_[byte];
    const Node& n = nodes_[node];
    for (uint32_t k = n.first_edge; k < n.first_edge + n.n_edges; ++k) {
      if (edges_[k].byte == byte) return edges_[k].child;
    }
    return -1;
  }
  // Rank of the special text at text[pos, pos + len), for the given mode (-1 if none).
  int32_t rank_at(std::string_view text, size_t pos, size_t len, bool parse_special) const;

  const Vocab& vocab_;
  std::vector<Node> nodes_;
  int32_t root_[256];
  std::vector<Edge> edges_;  // grouped by parent node (few children each: a linear scan)
  // For each text length: how many special tokens have it (ranks of one length are contiguous).
  std::vector<int32_t> tokens_of_length_;
};

}  // namespace nagare
