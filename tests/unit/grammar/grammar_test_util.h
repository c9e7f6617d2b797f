// Helpers for the grammar tests: whole-string acceptance through a byte vocabulary, and a
// brute-force mask (each token tried on a copy of the matcher) to check fill_mask against.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"

namespace nagare::grammar_test {

using Json = nlohmann::ordered_json;

// 256 one-byte tokens and an end token (id 256).
inline std::shared_ptr<const GrammarVocab> byte_vocab() {
  static const auto vocab = [] {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
    tokens.push_back("");
    return std::make_shared<const GrammarVocab>(std::move(tokens), std::vector<int32_t>{256});
  }();
  return vocab;
}

inline GrammarMatcher matcher(const std::shared_ptr<const Grammar>& g,
                              std::shared_ptr<const GrammarVocab> vocab = byte_vocab(), const GrammarLimits& limits = {}) {
  return GrammarMatcher(std::make_shared<const CompiledGrammar>(g, std::move(vocab), limits));
}

// The whole string is a sentence of the grammar.
inline bool accepts(const std::shared_ptr<const Grammar>& g, std::string_view s) {
  GrammarMatcher m = matcher(g);
  return m.accept_bytes(s) && m.is_complete();
}

// The string is a prefix of some sentence.
inline bool accepts_prefix(const std::shared_ptr<const Grammar>& g, std::string_view s) {
  GrammarMatcher m = matcher(g);
  return m.accept_bytes(s);
}

inline std::shared_ptr<const Grammar> gbnf(std::string_view text) { return Grammar::from_gbnf(text); }
inline std::shared_ptr<const Grammar> schema(const std::string& text) {
  return Grammar::from_json_schema(Json::parse(text));
}

// fill_mask's answer as the list of allowed ids.
inline std::vector<int32_t> mask_ids(GrammarMatcher& m, int32_t vocab_size) {
  std::vector<uint64_t> mask((static_cast<size_t>(vocab_size) + 63) / 64, 0);
  m.fill_mask(mask.data());
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < vocab_size; ++i)
    if (mask[static_cast<size_t>(i) >> 6] >> (i & 63) & 1) ids.push_back(i);
  return ids;
}

// What fill_mask must say, token by token from copies of `m`.
inline std::vector<int32_t> brute_force_ids(const GrammarMatcher& m, const std::vector<std::string>& tokens,
                                            const std::vector<int32_t>& end_ids) {
  std::vector<int32_t> ids;
  const bool complete = m.is_complete();
  for (int32_t i = 0; i < static_cast<int32_t>(tokens.size()); ++i) {
    if (std::find(end_ids.begin(), end_ids.end(), i) != end_ids.end()) {
      if (complete) ids.push_back(i);
      continue;
    }
    if (tokens[static_cast<size_t>(i)].empty()) continue;
    GrammarMatcher copy = m;
    if (copy.accept_bytes(tokens[static_cast<size_t>(i)])) ids.push_back(i);
  }
  return ids;
}

// GrammarError's message, or "" when `f` does not throw one.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const GrammarError& e) {
    return e.what();
  }
  return "";
}

}  // namespace nagare::grammar_test
