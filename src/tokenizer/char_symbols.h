// The starting point of both merge tokenizers (SPM, BPE): a text split into one symbol per
// UTF-8 character, linked as a list so that merging two neighbours is O(1).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"

namespace nagare {

struct CharSymbol {
  int32_t prev, next;
  uint32_t start, len;  // byte range in the text; len 0 once merged away
};

// Replaces `symbols` with one symbol per character of `text` (a truncated trailing sequence is
// one symbol of the bytes left).
inline void split_into_char_symbols(std::string_view text, std::vector<CharSymbol>& symbols) {
  symbols.clear();
  for (size_t offs = 0; offs < text.size();) {
    const size_t len = std::min(unicode::utf8_len(static_cast<uint8_t>(text[offs])), text.size() - offs);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offs + len == text.size() ? -1 : index + 1, static_cast<uint32_t>(offs),
                       static_cast<uint32_t>(len)});
    offs += len;
  }
}

}  // namespace nagare
