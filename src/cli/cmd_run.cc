// `nagare run NAME [-p PROMPT]` or `nagare run -m FILE`: one answer to a prompt, or an
// interactive chat, in the terminal. NAME is a model in the local store (pulled first when it is
// missing and pullable, as `ollama run` does), whose manifest's system prompt, template,
// parameters and messages apply unless a flag says otherwise. Runs on the serving engine, so a
// chat's earlier turns come from the prefix cache.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/kv_type_flags.h"
#include "cli/pull_progress.h"
#include "engine/chat_prompt.h"
#include "engine/engine.h"
#include "store/model_store.h"
#include "store/pull.h"
#include "util/error.h"

namespace nagare {
namespace {

struct RunOptions {
  std::string model;  // a .gguf path
  std::string name;   // or a model in the store
  std::vector<std::string> stop;
  std::vector<ManifestMessage> messages;
  std::optional<std::string> template_override;
  std::string prompt;
  std::string system;
  bool raw = false;
  bool verbose = false;
  int32_t n_predict = -1;
  int32_t ctx_size = 4096;
  int32_t threads = 0;
  int32_t draft_max = EngineOptions{}.draft_max;
  std::string model_draft;
  KvTypeFlags kv_types;
  SamplingParams sampling;
  int64_t seed = -1;
};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string format_duration(double ms) {
  char buf[64];
  if (ms >= 1000) std::snprintf(buf, sizeof buf, "%.6gs", ms / 1000);
  else std::snprintf(buf, sizeof buf, "%.6gms", ms);
  return buf;
}

// Streams one answer to stdout; returns its text.
std::string generate(Engine& engine, const RunOptions& o, std::vector<int32_t> prompt, double load_ms) {
  const auto start = Clock::now();
  GenerateRequest req;
  req.prompt = std::move(prompt);
  req.sampling = o.sampling;
  req.max_tokens = o.n_predict;
  req.stop = o.stop;
  auto stream = engine.submit(std::move(req));
  std::string text;
  std::vector<TokenEvent> events;
  for (bool done = false; !done;) {
    stream->wait();
    events.clear();
    done = stream->drain(events);
    for (auto& e : events) {
      std::fwrite(e.text.data(), 1, e.text.size(), stdout);
      text += e.text;
    }
    std::fflush(stdout);
  }
  std::printf("\n");
  if (stream->finish_reason() == FinishReason::kError) throw Error(stream->error());
  if (o.verbose) {
    const RequestStats s = stream->stats();
    const int32_t evaluated = s.prompt_tokens - s.cached_prompt_tokens;
    const double total_ms = seconds_since(start) * 1000 + load_ms;
    std::fprintf(stderr, "total duration:       %s\n", format_duration(total_ms).c_str());
    std::fprintf(stderr, "load duration:        %s\n", format_duration(load_ms).c_str());
    std::fprintf(stderr, "prompt eval count:    %d token(s)\n", evaluated);
    std::fprintf(stderr, "prompt eval duration: %s\n", format_duration(s.prefill_ms).c_str());
    std::fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n", s.prefill_ms > 0 ? evaluated / (s.prefill_ms / 1000) : 0.0);
    std::fprintf(stderr, "eval count:           %d token(s)\n", s.completion_tokens);
    std::fprintf(stderr, "eval duration:        %s\n", format_duration(s.decode_ms).c_str());
    // The first token comes with the prompt; the decode rate counts the tokens after it.
    std::fprintf(stderr, "eval rate:            %.2f tokens/s\n",
                 s.decode_ms > 0 ? (s.completion_tokens - 1) / (s.decode_ms / 1000) : 0.0);
    if (s.draft_tokens > 0)
      std::fprintf(stderr, "draft acceptance:     %d of %d token(s) (%.0f%%)\n", s.draft_accepted_tokens, s.draft_tokens,
                   100.0 * s.draft_accepted_tokens / s.draft_tokens);
  }
  return text;
}

int run(const RunOptions& o) {
  const auto load_start = Clock::now();
  auto model = Model::load(o.model);
  auto tokenizer = Tokenizer::from_gguf(model->file());
  ChatPrompt chat(model->file(), *tokenizer, o.template_override);
  const Tokenizer& tok = *tokenizer;
  EngineOptions eo;
  eo.n_ctx = o.ctx_size == kTrainedContext ? kTrainedContext : std::min<int32_t>(o.ctx_size, model->config().n_ctx_train);
  eo.threads = o.threads;
  eo.max_running = 1;
  eo.draft_max = o.draft_max;
  eo.kv_types = o.kv_types.types();
  Engine engine(std::move(model), std::move(tokenizer), eo, o.model_draft.empty() ? nullptr : Model::load(o.model_draft));
  const double load_ms = seconds_since(load_start) * 1000;

  std::vector<ChatMessage> conversation;
  if (!o.system.empty()) conversation.push_back({"system", o.system});
  for (const auto& m : o.messages) conversation.push_back({m.role, m.content});
  if (!o.prompt.empty()) {
    if (o.raw) {
      generate(engine, o, tok.encode(o.prompt, true, false), load_ms);
    } else {
      conversation.push_back({"user", o.prompt});
      generate(engine, o, chat.tokenize(conversation), load_ms);
    }
    return 0;
  }
  // Interactive chat: each turn re-renders the whole conversation; the prefix cache makes
  // only the new turn cost prompt processing.
  const bool tty = isatty(fileno(stdin));
  for (;;) {
    if (tty) std::fprintf(stderr, ">>> ");
    std::string line;
    if (!std::getline(std::cin, line)) break;
    if (line == "/bye" || line == "/exit") break;
    if (line.empty()) continue;
    conversation.push_back({"user", line});
    try {
      std::string answer = generate(engine, o, chat.tokenize(conversation), load_ms);
      conversation.push_back({"assistant", answer});
    } catch (const Error& e) {
      // A turn that no longer fits is reported; the chat goes on (a new conversation helps).
      std::fprintf(stderr, "error: %s\n", e.what());
      conversation.pop_back();
    }
    std::printf("\n");
  }
  return 0;
}

// Flags the user gave, which a manifest's parameters must not override.
struct GivenFlags {
  std::map<std::string, CLI::Option*> by_parameter;  // manifest parameter name -> its flag
  CLI::Option* system = nullptr;
  bool given(const std::string& parameter) const {
    auto it = by_parameter.find(parameter);
    return it != by_parameter.end() && it->second->count() > 0;
  }
};

// Finds o.name in the store, pulling it first when it is missing and pullable, and applies its
// manifest to the options.
void use_store_model(RunOptions& o, const GivenFlags& flags) {
  ModelStore store(ModelStore::default_root());
  auto source = parse_pull_source(o.name);
  const ModelName name = source ? source->name : ModelName::parse(o.name);
  std::optional<StoredModel> m = store.find(name);
  if (!m) {
    if (!source) store.resolve(o.name);  // throws: not found, and how to get it
    m = pull_with_progress(store, o.name, stderr).model;
  }
  o.model = m->weights_path;
  const Manifest& mf = m->manifest;
  const nlohmann::json& p = mf.parameters;
  auto has = [&](const char* key) { return p.contains(key) && !flags.given(key); };
  auto as_int = [&](const char* key, int64_t lo, int64_t hi) {
    int64_t v = p[key].get<int64_t>();
    if (v < lo || v > hi)
      throw Error("model " + name.display() + ": its PARAMETER " + key + " " + std::to_string(v) + " is out of range (" +
                  std::to_string(lo) + " to " + std::to_string(hi) + ")");
    return v;
  };
  if (has("temperature")) o.sampling.temperature = p["temperature"].get<float>();
  if (has("top_k")) o.sampling.top_k = int32_t(as_int("top_k", -1, 1 << 30));
  if (has("top_p")) o.sampling.top_p = p["top_p"].get<float>();
  if (has("min_p")) o.sampling.min_p = p["min_p"].get<float>();
  if (has("repeat_penalty")) o.sampling.repetition_penalty = p["repeat_penalty"].get<float>();
  if (has("repeat_last_n")) o.sampling.repeat_last_n = int32_t(as_int("repeat_last_n", -1, 1 << 30));
  if (has("presence_penalty")) o.sampling.presence_penalty = p["presence_penalty"].get<float>();
  if (has("frequency_penalty")) o.sampling.frequency_penalty = p["frequency_penalty"].get<float>();
  if (has("seed")) o.seed = as_int("seed", -1, INT64_MAX);
  if (has("num_predict")) o.n_predict = int32_t(as_int("num_predict", -2, 1 << 30));
  if (has("num_ctx")) o.ctx_size = int32_t(as_int("num_ctx", 16, 1 << 20));
  if (has("num_thread")) o.threads = int32_t(as_int("num_thread", 0, 1024));
  if (p.contains("stop"))
    for (const auto& s : p["stop"]) o.stop.push_back(s.get<std::string>());
  if (mf.system && flags.system->count() == 0) o.system = *mf.system;
  o.messages = mf.messages;
  o.template_override = mf.template_text;
}

}  // namespace

void add_run_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("run", "Answer a prompt, or chat interactively, with a model");
  static RunOptions o;
  static GivenFlags flags;
  o.sampling = SamplingParams{};
  auto& f = flags.by_parameter;
  cmd->add_option("name", o.name,
                  "A model in the local store (pulled first when missing: hf.co/OWNER/REPO[:QUANT], a URL), or a .gguf path");
  cmd->add_option("-m,--model", o.model, "Path to a .gguf model");
  cmd->add_option("-p,--prompt", o.prompt, "Prompt; without it, chat interactively (/bye ends)");
  flags.system = cmd->add_option("--system", o.system, "System prompt");
  cmd->add_flag("--raw", o.raw, "Complete the prompt as plain text, without the chat template");
  f["num_predict"] = cmd->add_option("-n,--n-predict", o.n_predict, "Most tokens to generate (-1: until the model stops)");
  f["num_ctx"] = cmd->add_option("-c,--ctx-size", o.ctx_size, "Context size in tokens (0: the model's training context)")
                     ->check(CLI::Range(0, 1 << 24));
  f["num_thread"] =
      cmd->add_option("-t,--threads", o.threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  f["temperature"] = cmd->add_option("--temp", o.sampling.temperature, "Temperature (0: greedy)");
  f["top_k"] = cmd->add_option("--top-k", o.sampling.top_k, "Top-k (0: off)");
  f["top_p"] = cmd->add_option("--top-p", o.sampling.top_p, "Top-p (1: off)");
  f["min_p"] = cmd->add_option("--min-p", o.sampling.min_p, "Min-p (0: off)");
  f["repeat_penalty"] = cmd->add_option("--repeat-penalty", o.sampling.repetition_penalty, "Repetition penalty (1: off)");
  f["repeat_last_n"] = cmd->add_option("--repeat-last-n", o.sampling.repeat_last_n, "Tokens the repetition penalty looks back");
  f["presence_penalty"] = cmd->add_option("--presence-penalty", o.sampling.presence_penalty, "Presence penalty");
  f["frequency_penalty"] = cmd->add_option("--frequency-penalty", o.sampling.frequency_penalty, "Frequency penalty");
  f["seed"] = cmd->add_option("--seed", o.seed, "Random seed (-1: random)");
  cmd->add_option("--draft-max", o.draft_max,
                  "Speculative tokens per step, drafted by prompt lookup; output is unchanged (0: off)")
      ->check(CLI::Range(0, 64))->capture_default_str();
  o.kv_types.add(cmd);
  cmd->add_option("--model-draft", o.model_draft,
                  "A smaller .gguf with the model's vocabulary that drafts speculative tokens; output is unchanged")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--verbose", o.verbose, "Print load, prompt and generation timings");
  cmd->callback([&action] {
    action = [] {
      if (o.name.empty() == o.model.empty())
        throw Error(o.name.empty() ? "run needs a model: `nagare run NAME` (a model in the local store, or hf.co/OWNER/REPO "
                                     "to pull one) or `nagare run -m FILE.gguf`"
                                   : "run takes a model NAME or -m FILE, not both");
      if (!o.name.empty()) {
        if (is_file_argument(o.name)) o.model = o.name;
        else use_store_model(o, flags);
      }
      if (o.seed >= 0) o.sampling.seed = uint64_t(o.seed);
      o.sampling.validate();
      return run(o);
    };
  });
}

}  // namespace nagare
