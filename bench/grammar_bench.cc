// bench_grammar: what constrained decoding costs. Compile time of a set of JSON Schemas, and
// fill_mask / accept_token time per token along seeded random walks under a schema on a model's
// vocabulary (default Gemma 3's 262,144 tokens): cold (a fresh CompiledGrammar: every state's
// masks computed on first use), warm (the same CompiledGrammar, a new walk: per-state masks
// reused, whole-mask cache partly), and hot (the same walk again: whole masks from the cache).
// Times are the thread's CPU time (not wall time), so that a busy machine does not inflate them.
// A benchmark, not a test: built with the project, never run by ctest.
//
//   build/bench/bench_grammar [--walks N] [--tokens N] [MODEL.gguf]
//   BENCH_GRAMMAR_SLOW=1 build/bench/bench_grammar   # also prints each mask over 1 ms, with context
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "grammar/compiled_grammar.h"
#include "grammar/grammar.h"
#include "tokenizer/tokenizer.h"

namespace {

using Json = nlohmann::ordered_json;

struct Clock {  // this thread's CPU time, in ms
  using time_point = double;
  static double now() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
  }
};

double ms_since(Clock::time_point t) { return Clock::now() - t; }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

const std::vector<std::pair<const char*, const char*>>& schemas() {
  static const std::vector<std::pair<const char*, const char*>> s = {
      {"any", "{}"},
      {"string", R"({"type": "string"})"},
      {"integer-range", R"({"type": "integer", "minimum": -1000, "maximum": 123456})"},
      {"enum", R"({"enum": ["red", "green", "blue", "cyan", "magenta", "yellow", "black"]})"},
      {"person", R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
                     "email": {"type": "string", "format": "email"}}, "required": ["name", "age"]})"},
      {"strict-weather", R"({"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": ["string", "null"],
                     "enum": ["celsius", "fahrenheit", null]}}, "required": ["location", "unit"], "additionalProperties": false})"},
      {"array-of-objects", R"({"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"},
                     "title": {"type": "string", "maxLength": 80}}, "required": ["id", "title"]}, "maxItems": 50})"},
      {"nested", R"({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "object",
                     "properties": {"c": {"type": "array", "items": {"type": "number"}}}}}}}})"},
      {"recursive-tree", R"({"$defs": {"node": {"type": "object", "properties": {"name": {"type": "string"},
                     "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["name", "children"]}},
                     "$ref": "#/$defs/node"})"},
      {"dates", R"({"type": "object", "properties": {"day": {"type": "string", "format": "date"}, "at": {"type": "string",
                     "format": "date-time"}, "id": {"type": "string", "format": "uuid"}}, "required": ["day", "at", "id"]})"},
      {"pattern", R"({"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}(-[a-z]+)?$"})"},
      {"pattern-unanchored", R"({"type": "string", "pattern": "error|warning"})"},
      {"lengths", R"({"type": "string", "minLength": 10, "maxLength": 200})"},
      {"tuple", R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]})"},
      {"additional", R"({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                     "additionalProperties": {"type": "integer"}})"},
      {"anyOf", R"({"anyOf": [{"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}},
                     "required": ["kind", "r"]}, {"type": "object", "properties": {"kind": {"const": "rect"},
                     "w": {"type": "number"}, "h": {"type": "number"}}, "required": ["kind", "w", "h"]}]})"},
      {"allOf-merge", R"({"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]},
                     {"properties": {"b": {"type": "boolean"}}}]})"},
      {"enum-500", nullptr},
      {"wide-object-40", nullptr},
      {"tool-call", R"({"type": "object", "properties": {"name": {"enum": ["get_weather", "search", "calculator"]},
                     "arguments": {"type": "object"}}, "required": ["name", "arguments"], "additionalProperties": false})"},
  };
  return s;
}

Json generated_schema(const std::string& name) {
  Json s = Json::object();
  if (name == "enum-500") {
    s["enum"] = Json::array();
    for (int i = 0; i < 500; ++i) s["enum"].push_back("option number " + std::to_string(i));
  } else {
    s["type"] = "object";
    s["properties"] = Json::object();
    s["required"] = Json::array();
    for (int i = 0; i < 40; ++i) {
      const std::string key = "field_" + std::to_string(i);
      s["properties"][key] = Json{{"type", i % 3 == 0 ? "integer" : i % 3 == 1 ? "string" : "boolean"}};
      if (i % 2 == 0) s["required"].push_back(key);
    }
  }
  return s;
}

const char* kWalkSchema = R"({
  "type": "object",
  "properties": {
    "title": {"type": "string"},
    "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
    "genres": {"type": "array", "items": {"enum": ["drama", "comedy", "action", "documentary"]}, "maxItems": 3},
    "summary": {"type": "string"},
    "rating": {"type": "number"},
    "cast": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"},
             "role": {"type": "string"}}, "required": ["name", "role"]}, "maxItems": 3}
  },
  "required": ["title", "year", "genres", "summary", "rating", "cast"],
  "additionalProperties": false
})";

struct WalkTimes {
  std::vector<double> mask_ms, accept_ms;
  std::vector<double> string_ms, after_brace_ms;  // masks inside a string / right after '{'
  size_t tokens = 0;
  bool finished = false;
};

// One walk: sample uniformly among allowed tokens, but a fifth of the time among those that
// contain a quote or a closing bracket, so strings and arrays end.
WalkTimes walk(const std::shared_ptr<const nagare::CompiledGrammar>& compiled, const std::vector<std::string>& tokens,
               const std::vector<int32_t>& end_ids, uint32_t seed, size_t max_tokens) {
  WalkTimes t;
  nagare::GrammarMatcher m(compiled);
  std::mt19937 rng(seed);
  std::vector<uint64_t> mask((tokens.size() + 63) / 64);
  std::string text;
  bool in_string = false;
  for (size_t step = 0; step < max_tokens; ++step) {
    auto t0 = Clock::now();
    m.fill_mask(mask.data());
    const double ms = ms_since(t0);
    t.mask_ms.push_back(ms);
    if (std::getenv("BENCH_GRAMMAR_SLOW") && ms > std::atof(std::getenv("BENCH_GRAMMAR_SLOW")))
      std::fprintf(stderr, "  slow mask %.3f ms after ...%s\n", ms,
                   Json(text.substr(text.size() > 60 ? text.size() - 60 : 0)).dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    if (in_string) t.string_ms.push_back(ms);
    if (!text.empty() && text.back() == '{') t.after_brace_ms.push_back(ms);
    std::vector<int32_t> allowed, closing;
    for (size_t w = 0; w < mask.size(); ++w)
      for (uint64_t bits = mask[w]; bits; bits &= bits - 1) {
        const auto id = static_cast<int32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
        allowed.push_back(id);
        const std::string& s = tokens[static_cast<size_t>(id)];
        if (s.find_first_of("\"]}") != std::string::npos) closing.push_back(id);
      }
    if (allowed.empty()) break;
    int32_t token = (!closing.empty() && rng() % 5 == 0) ? closing[rng() % closing.size()] : allowed[rng() % allowed.size()];
    for (int32_t e : end_ids)
      if (mask[static_cast<size_t>(e) >> 6] >> (e & 63) & 1) token = e;
    t0 = Clock::now();
    const bool ok = m.accept_token(token);
    t.accept_ms.push_back(ms_since(t0));
    if (!ok) {
      std::fprintf(stderr, "token %d refused after %s\n", token, text.c_str());
      std::exit(1);
    }
    ++t.tokens;
    if (std::find(end_ids.begin(), end_ids.end(), token) != end_ids.end()) {
      t.finished = true;
      break;
    }
    for (char c : tokens[static_cast<size_t>(token)]) {
      if (c == '"' && (text.empty() || text.back() != '\\')) in_string = !in_string;
      text += c;
    }
    if (m.is_finished()) {
      t.finished = true;
      break;
    }
  }
  return t;
}

void report(const char* label, const WalkTimes& t) {
  std::printf("  %-34s %5zu tokens  mask p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms | in-string p50 %7.3f | after '{' p50 %7.3f | accept p50 %6.4f ms\n",
              label, t.tokens, percentile(t.mask_ms, 0.5), percentile(t.mask_ms, 0.99), percentile(t.mask_ms, 1.0),
              percentile(t.string_ms, 0.5), percentile(t.after_brace_ms, 0.5), percentile(t.accept_ms, 0.5));
}

WalkTimes merge(const std::vector<WalkTimes>& all) {
  WalkTimes m;
  for (const WalkTimes& t : all) {
    m.tokens += t.tokens;
    for (auto [dst, src] : {std::pair{&m.mask_ms, &t.mask_ms}, {&m.accept_ms, &t.accept_ms}, {&m.string_ms, &t.string_ms},
                            {&m.after_brace_ms, &t.after_brace_ms}})
      dst->insert(dst->end(), src->begin(), src->end());
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = std::string(NAGARE_SOURCE_DIR) + "/models/gemma-3-270m-q4_k_m.gguf";
  size_t walks = 5, max_tokens = 400;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--walks") && i + 1 < argc) walks = std::stoul(argv[++i]);
    else if (!std::strcmp(argv[i], "--tokens") && i + 1 < argc) max_tokens = std::stoul(argv[++i]);
    else model = argv[i];
  }
  try {
    std::printf("compile (Grammar::from_json_schema: parse, NFA, DFA, checks)\n");
    std::vector<double> compile_ms;
    for (const auto& [name, text] : schemas()) {
      const Json s = text ? Json::parse(text) : generated_schema(name);
      const auto t0 = Clock::now();
      const auto g = nagare::Grammar::from_json_schema(s);
      compile_ms.push_back(ms_since(t0));
      std::printf("  %-20s %8.3f ms\n", name, compile_ms.back());
    }
    std::printf("  median %.3f ms, max %.3f ms over %zu schemas\n\n", percentile(compile_ms, 0.5),
                percentile(compile_ms, 1.0), compile_ms.size());

    auto t0 = Clock::now();
    const auto gguf = nagare::GgufFile::open(model);
    const auto tok = nagare::Tokenizer::from_gguf(*gguf);
    std::vector<std::string> tokens;
    std::vector<int32_t> end_ids;
    for (int32_t i = 0; i < tok->vocab_size(); ++i) {
      tokens.emplace_back(tok->piece_view(i, false));
      if (tok->is_end_of_generation(i)) end_ids.push_back(i);
    }
    const double load_ms = ms_since(t0);
    t0 = Clock::now();
    const auto vocab = std::make_shared<const nagare::GrammarVocab>(tokens, end_ids);
    std::printf("vocabulary: %zu tokens (%s); GrammarVocab built in %.1f ms (tokenizer load %.1f ms)\n\n", tokens.size(),
                model.c_str(), ms_since(t0), load_ms);

    // Single states: the mask cold (a fresh CompiledGrammar computes the state's masks), warm
    // (those reused, the whole-mask cache emptied) and hot (the whole mask cached).
    std::printf("single states (median of 5; cold = first use, warm = per-state masks cached, hot = whole mask cached)\n");
    const std::vector<std::tuple<const char*, const char*, const char*>> states = {
        {"schema: after '{'", kWalkSchema, "{"},
        {"schema: inside a string", kWalkSchema, "{\"title\": \"The"},
        {"schema: after a number", kWalkSchema, "{\"title\": \"x\", \"year\": 19"},
        {"any JSON: after '{'", nullptr, "{"},
        {"any JSON: inside a string", nullptr, "{\"a\": [\"x"},
        {"any JSON: after a number in []", nullptr, "{\"a\": [1, 2"},
    };
    std::vector<uint64_t> mask((tokens.size() + 63) / 64);
    for (const auto& [label, schema_text, prefix] : states) {
      const auto g = schema_text ? nagare::Grammar::from_json_schema(Json::parse(schema_text)) : nagare::Grammar::any_json_object();
      std::vector<double> cold_ms, warm_ms, hot_ms;
      size_t allowed = 0;
      for (int rep = 0; rep < 5; ++rep) {
        auto compiled = std::make_shared<const nagare::CompiledGrammar>(g, vocab);
        nagare::GrammarMatcher m(compiled);
        if (!m.accept_bytes(prefix)) throw std::runtime_error(std::string("prefix refused: ") + prefix);
        auto t = Clock::now();
        m.fill_mask(mask.data());
        cold_ms.push_back(ms_since(t));
        compiled->impl().clear_mask_cache();
        t = Clock::now();
        m.fill_mask(mask.data());
        warm_ms.push_back(ms_since(t));
        t = Clock::now();
        m.fill_mask(mask.data());
        hot_ms.push_back(ms_since(t));
        allowed = 0;
        for (uint64_t w : mask) allowed += static_cast<size_t>(__builtin_popcountll(w));
      }
      std::printf("  %-32s cold %7.3f ms  warm %7.3f ms  hot %7.3f ms  (%zu tokens allowed)\n", label,
                  percentile(cold_ms, 0.5), percentile(warm_ms, 0.5), percentile(hot_ms, 0.5), allowed);
    }
    std::printf("\n");

    const auto grammar = nagare::Grammar::from_json_schema(Json::parse(kWalkSchema));
    std::printf("random walks under a movie schema, %zu walks of up to %zu tokens\n", walks, max_tokens);
    std::vector<WalkTimes> cold, warm, hot;
    for (size_t w = 0; w < walks; ++w) {
      // Cold: a new CompiledGrammar for this walk alone.
      auto fresh = std::make_shared<const nagare::CompiledGrammar>(grammar, vocab);
      cold.push_back(walk(fresh, tokens, end_ids, static_cast<uint32_t>(w + 1), max_tokens));
    }
    auto shared = std::make_shared<const nagare::CompiledGrammar>(grammar, vocab);
    walk(shared, tokens, end_ids, 1000, max_tokens);  // warms the per-state masks
    for (size_t w = 0; w < walks; ++w) warm.push_back(walk(shared, tokens, end_ids, static_cast<uint32_t>(w + 1), max_tokens));
    for (size_t w = 0; w < walks; ++w) hot.push_back(walk(shared, tokens, end_ids, static_cast<uint32_t>(w + 1), max_tokens));
    report("cold (fresh CompiledGrammar)", merge(cold));
    report("warm (per-state masks reused)", merge(warm));
    report("hot (same walks: whole masks cached)", merge(hot));
    size_t finished = 0;
    for (const auto& t : cold) finished += t.finished;
    std::printf("  %zu of %zu walks ended in a complete object\n", finished, walks);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_grammar: %s\n", e.what());
    return 1;
  }
  return 0;
}
