// Pre-tokenizers for byte-level BPE: split text into words exactly as llama.cpp's regexes for
// each `tokenizer.ggml.pre` do, with hand-written Unicode-aware scanners instead of a regex engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace nagare {

enum class PreTokenizer {
  kDefault,  // "default" / missing: punctuation runs, GPT-2 regex, digit runs, ASCII digit triples
  kGpt2,     // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
  kSmollm,   // \p{N} isolated, then the GPT-2 regex (also starcoder, refact, command-r)
  kLlama3,   // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|...
  kQwen2,    // as kLlama3 with \p{N} (single digits)
  kGpt4o,    // o200k (gpt-oss): case-split letter runs with contractions, \p{N}{1,3},
             //  ?[^\s\p{L}\p{N}]+[\r\n/]*, whitespace as kLlama3
};

// Splits the code points `cps` into words; appends each word's length in code points to
// `word_lengths` (they sum to cps.size()). `flags` are unicode::flags of each code point.
void pretokenize(PreTokenizer type, const std::vector<uint32_t>& cps,
                 const std::vector<uint16_t>& flags, std::vector<size_t>& word_lengths);

}  // namespace nagare
