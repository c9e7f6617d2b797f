// Constrained decoding: a context-free grammar over bytes (from llama.cpp's GBNF or from a JSON
// Schema), compiled against a model's vocabulary, and a per-sequence matcher that says which
// tokens may come next. The engine masks every other token before sampling, so any temperature
// samples only sentences of the grammar.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/error.h"

namespace nagare {

// A grammar or schema the compiler refuses. The message names what is at fault: the GBNF
// position ("line 3, column 7: ...") or the schema keyword and its JSON pointer
// ("unsupported JSON Schema keyword 'patternProperties' at /properties/a").
class GrammarError : public Error {
 public:
  using Error::Error;
};

// Bounds that keep a hostile grammar from exploding compile time or memory; past one, the
// grammar is refused with GrammarError.
struct GrammarLimits {
  size_t max_source_bytes = 1 << 20;  // GBNF text or serialized schema
  size_t max_elements = 1 << 18;      // grammar elements after expansion (repetitions, enums)
  // States of the byte automaton: its construction time grows with them (65,536 take about a
  // second, in the request's thread); an ambiguous pattern such as (a|b)*a(a|b){20} passes it.
  size_t max_automaton_states = 1 << 16;
  int32_t max_stack_depth = 512;      // nesting of rule calls while matching
  size_t max_stacks = 1 << 12;        // simultaneous parse stacks (ambiguity) while matching
};

// An immutable grammar: rules over bytes, root rule "root". Shared freely between threads.
class Grammar {
 public:
  // llama.cpp's GBNF, as llama-server's "grammar" field accepts it. Left recursion is refused.
  static std::shared_ptr<const Grammar> from_gbnf(std::string_view text, const GrammarLimits& limits = {});
  // A JSON Schema of the subset in docs/structured-output.md; any other keyword is refused.
  // ordered_json (as the API layer parses requests): properties keep the schema's order, and
  // the output writes them in that order.
  static std::shared_ptr<const Grammar> from_json_schema(const nlohmann::ordered_json& schema,
                                                         const GrammarLimits& limits = {});
  // Any JSON object (OpenAI's response_format {"type": "json_object"}, Ollama's format "json").
  static std::shared_ptr<const Grammar> any_json_object();

  // The grammar written back as GBNF (the JSON Schema compiler's output, for docs and tests).
  std::string to_gbnf() const;

  struct Impl;
  explicit Grammar(std::unique_ptr<Impl> impl);
  ~Grammar();
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// A model's vocabulary as the grammar sees it: each token's bytes as generated (empty for
// control tokens, which the grammar never allows) and the end-of-generation ids, allowed only
// where the output is a whole sentence. Built once per model; shared between threads.
class GrammarVocab {
 public:
  GrammarVocab(std::vector<std::string> token_bytes, std::vector<int32_t> end_ids);
  ~GrammarVocab();
  int32_t size() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// A grammar bound to a vocabulary: what does not depend on the parse stack precomputed per
// grammar position, and a cache of masks per matcher state. Shared by every sequence using the
// grammar; thread-safe.
class CompiledGrammar {
 public:
  CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const GrammarVocab> vocab,
                  const GrammarLimits& limits = {});
  ~CompiledGrammar();

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// One sequence's position in the grammar. Not thread-safe; cheap to create.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar);
  ~GrammarMatcher();
  GrammarMatcher(GrammarMatcher&&) noexcept;
  GrammarMatcher& operator=(GrammarMatcher&&) noexcept;
  // A copy continues independently from the same position (tests, speculative decoding).
  GrammarMatcher(const GrammarMatcher&);
  GrammarMatcher& operator=(const GrammarMatcher&);

  // The tokens that keep the output a prefix of a sentence of the grammar, plus the end ids
  // when it is already a whole sentence: bit i of mask[i / 64] for token i, (vocab + 63) / 64
  // words. Never empty while !is_finished() unless the stack bound was hit (then it allows the
  // end ids only, so the sequence ends).
  void fill_mask(uint64_t* mask);
  // Advances by one token; false (and the state unchanged) when the token is not allowed.
  // An end id is accepted only when the output is a whole sentence.
  bool accept_token(int32_t token);
  // Advances by bytes (tests, and text forced into the output); false and unchanged if refused.
  bool accept_bytes(std::string_view bytes);
  // The output so far is a whole sentence of the grammar.
  bool is_complete() const;
  // A whole sentence that nothing can extend: the engine ends the sequence here.
  bool is_finished() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nagare
