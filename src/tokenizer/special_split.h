// Splits text on special-token texts before tokenization, reproducing llama.cpp's
// tokenizer_st_partition (longest special first, leftmost matches) in one trie pass.
#pragma once

#include <cstdint>
#include <string_view>
#include <unordered_map>
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
  // are left as text), as in llama.cpp.
  void split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

 private:
  struct Node {
    int32_t rank_all = -1;   // best rank (index in vocab.special_order) ending here
    int32_t rank_text = -1;  // same, among tokens split when parse_special is false
  };
  int32_t child(int32_t node, uint8_t byte) const {
    auto it = edges_.find((static_cast<uint64_t>(node) << 8) | byte);
    return it == edges_.end() ? -1 : it->second;
  }

  const Vocab& vocab_;
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child
  bool first_byte_[256] = {};
};

}  // namespace nagare
