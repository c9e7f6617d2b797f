// libFuzzer target for constrained decoding. The input's first byte picks the source: GBNF text
// or a JSON Schema (JSON text); up to the first NUL byte is the grammar, the rest is output to
// match. Compiling must succeed or throw nagare::Error (GrammarError); a compiled grammar then
// runs over a vocabulary of the 256 single bytes, a few multi-byte tokens and an end token,
// where every step must keep the matcher's promises: fill_mask allows exactly the tokens
// accept_token takes (checked on copies), the end token only when is_complete(), nothing but
// the end token once is_finished(), and a refused token leaves the state unchanged.
// Build and run: see tests/fuzz/CMakeLists.txt and docs/fuzzing.md.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"

namespace {

using namespace nagare;

constexpr int32_t kEnd = 256 + 4;

const std::shared_ptr<const GrammarVocab>& vocab() {
  static const auto v = [] {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, char(b)));
    for (const char* t : {"{\"", "\": ", "true", "\u3042\u3044"}) tokens.push_back(t);
    tokens.push_back("");  // the end token
    return std::make_shared<const GrammarVocab>(std::move(tokens), std::vector<int32_t>{kEnd});
  }();
  return v;
}

bool allowed(const std::vector<uint64_t>& mask, int32_t id) { return mask[size_t(id) >> 6] >> (id & 63) & 1; }

void run(const std::shared_ptr<const Grammar>& g, std::string_view output) {
  GrammarLimits limits;
  limits.max_stacks = 256;
  limits.max_stack_depth = 64;
  auto compiled = std::make_shared<const CompiledGrammar>(g, vocab(), limits);
  GrammarMatcher m(compiled);
  std::vector<uint64_t> mask((size_t(kEnd) + 1 + 63) / 64);
  for (size_t step = 0; step <= output.size() && step < 64; ++step) {
    m.fill_mask(mask.data());
    if (m.is_complete() && !allowed(mask, kEnd)) std::abort();
    // The end token without a complete sentence: only as the whole answer, when a bound was hit.
    const bool bound_hit = allowed(mask, kEnd) && !m.is_complete();
    for (int32_t id = 0; id < kEnd; ++id) {
      if ((m.is_finished() || bound_hit) && allowed(mask, id)) std::abort();
      if (id % 17 != int32_t(step % 17) && id < 256) continue;  // a sample of the bytes each step
      GrammarMatcher copy = m;
      if (copy.accept_token(id) != allowed(mask, id)) std::abort();
    }
    if (step == output.size()) break;
    GrammarMatcher before = m;
    const int32_t id = static_cast<unsigned char>(output[step]);
    if (!m.accept_token(id)) {
      // Unchanged: the same mask as before the refused token.
      std::vector<uint64_t> again(mask.size());
      m.fill_mask(again.data());
      if (again != mask) std::abort();
      break;
    }
  }
  (void)g->to_gbnf();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nul = input.find('\0');
  const std::string_view source = input.substr(0, nul);
  const std::string_view output = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  GrammarLimits limits;
  limits.max_elements = 1 << 14;
  limits.max_automaton_states = 1 << 12;  // the bound's refusal is reached in milliseconds, not seconds
  std::shared_ptr<const Grammar> g;
  try {
    if (data[0] & 1) {
      auto schema = nlohmann::ordered_json::parse(source, nullptr, /*allow_exceptions=*/false);
      if (schema.is_discarded()) return 0;
      g = Grammar::from_json_schema(schema, limits);
    } else {
      g = Grammar::from_gbnf(source, limits);
    }
  } catch (const Error&) {
    return 0;  // refused with a message: the expected answer to a bad grammar
  }
  run(g, output);
  return 0;
}
