// GrammarVocab's insides: the tokens' bytes in a prefix trie laid out in depth-first order, so
// one walk tests every token against a parse state, sharing each prefix's work and skipping a
// whole subtree the moment no stack survives its prefix.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace nagare {

struct GrammarVocab::Impl {
  static constexpr size_t kMaxTokenBytes = 0xFFFF;  // longer tokens are never allowed

  int32_t size = 0;
  size_t words = 0;  // mask words: (size + 63) / 64
  std::vector<std::string> token_bytes;
  std::vector<int32_t> end_ids;
  std::vector<uint64_t> end_bits;    // the end-of-generation tokens
  std::vector<uint64_t> trie_bits;   // the tokens in the trie (non-empty, not end tokens)

  // Trie nodes in preorder; node 0 is the root (the empty prefix). Node i's subtree is
  // [i, subtree_end[i]); the tokens whose bytes end at node i are tokens[token_begin[i] ..
  // token_begin[i + 1]).
  std::vector<uint8_t> byte;
  std::vector<uint16_t> depth;
  std::vector<uint32_t> subtree_end;
  std::vector<uint32_t> parent;
  std::vector<uint32_t> token_begin;
  std::vector<int32_t> tokens;
  // The first token at each node, or `size` (a bit past the vocabulary, in the spare mask word
  // walks keep) where none ends there: marking it needs no branch.
  std::vector<int32_t> node_token;
  uint32_t max_depth = 0;

  uint32_t num_nodes() const { return static_cast<uint32_t>(byte.size()); }
  void set_tokens_at(uint32_t node, uint64_t* mask) const {
    for (uint32_t k = token_begin[node]; k < token_begin[node + 1]; ++k)
      mask[static_cast<uint32_t>(tokens[k]) >> 6] |= uint64_t(1) << (tokens[k] & 63);
  }
};

}  // namespace nagare
