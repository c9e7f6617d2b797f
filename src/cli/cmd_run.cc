// `nagare run -m MODEL [-p PROMPT]`: one answer to a prompt, or an interactive chat, in the
// terminal. Runs on the serving engine, so a chat's earlier turns come from the prefix cache.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <unistd.h>

#include "cli/commands.h"
#include "engine/chat_prompt.h"
#include "engine/engine.h"
#include "util/error.h"

namespace nagare {
namespace {

struct RunOptions {
  std::string model;
  std::string prompt;
  std::string system;
  bool raw = false;
  bool verbose = false;
  int32_t n_predict = -1;
  int32_t ctx_size = 4096;
  int32_t threads = 0;
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
  }
  return text;
}

int run(const RunOptions& o) {
  const auto load_start = Clock::now();
  auto model = Model::load(o.model);
  auto tokenizer = Tokenizer::from_gguf(model->file());
  ChatPrompt chat(model->file(), *tokenizer);
  const Tokenizer& tok = *tokenizer;
  EngineOptions eo;
  eo.n_ctx = std::min<int32_t>(o.ctx_size, model->config().n_ctx_train);
  eo.threads = o.threads;
  eo.max_running = 1;
  Engine engine(std::move(model), std::move(tokenizer), eo);
  const double load_ms = seconds_since(load_start) * 1000;

  std::vector<ChatMessage> conversation;
  if (!o.system.empty()) conversation.push_back({"system", o.system});
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

}  // namespace

void add_run_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("run", "Answer a prompt, or chat interactively, with a model");
  static RunOptions o;
  o.sampling = SamplingParams{};
  cmd->add_option("-m,--model", o.model, "Path to a .gguf model")->required();
  cmd->add_option("-p,--prompt", o.prompt, "Prompt; without it, chat interactively (/bye ends)");
  cmd->add_option("--system", o.system, "System prompt");
  cmd->add_flag("--raw", o.raw, "Complete the prompt as plain text, without the chat template");
  cmd->add_option("-n,--n-predict", o.n_predict, "Most tokens to generate (-1: until the model stops)");
  cmd->add_option("-c,--ctx-size", o.ctx_size, "Context size in tokens")->check(CLI::Range(16, 1 << 20));
  cmd->add_option("-t,--threads", o.threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--temp", o.sampling.temperature, "Temperature (0: greedy)");
  cmd->add_option("--top-k", o.sampling.top_k, "Top-k (0: off)");
  cmd->add_option("--top-p", o.sampling.top_p, "Top-p (1: off)");
  cmd->add_option("--min-p", o.sampling.min_p, "Min-p (0: off)");
  cmd->add_option("--repeat-penalty", o.sampling.repetition_penalty, "Repetition penalty (1: off)");
  cmd->add_option("--repeat-last-n", o.sampling.repeat_last_n, "Tokens the repetition penalty looks back");
  cmd->add_option("--presence-penalty", o.sampling.presence_penalty, "Presence penalty");
  cmd->add_option("--frequency-penalty", o.sampling.frequency_penalty, "Frequency penalty");
  cmd->add_option("--seed", o.seed, "Random seed (-1: random)");
  cmd->add_flag("--verbose", o.verbose, "Print load, prompt and generation timings");
  cmd->callback([&action] {
    action = [] {
      if (o.seed >= 0) o.sampling.seed = uint64_t(o.seed);
      o.sampling.validate();
      return run(o);
    };
  });
}

}  // namespace nagare
