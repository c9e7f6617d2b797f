// What the engine tests share: an engine on a model of models/, a request's whole output, and the
// engine's stats once it is idle.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace nagare::test {

inline const std::string kModelDir = std::string(NAGARE_SOURCE_DIR) + "/models/";
inline const std::string kSmolLM2 = "SmolLM2-135M-Instruct.Q4_1.gguf";

inline std::unique_ptr<Engine> make_engine(const std::string& model_file, const EngineOptions& o) {
  auto model = Model::load(kModelDir + model_file);
  auto tok = Tokenizer::from_gguf(model->file());
  return std::make_unique<Engine>(std::move(model), std::move(tok), o);
}

struct Output {
  std::string text;
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::kNone;
  std::string error;
  RequestStats stats;
};

inline Output collect(RequestStream& s) {
  Output out;
  std::vector<TokenEvent> events;
  for (bool done = false; !done;) {
    s.wait();
    events.clear();
    done = s.drain(events);
    for (auto& e : events) {
      out.text += e.text;
      if (e.token >= 0) out.tokens.push_back(e.token);
    }
  }
  out.reason = s.finish_reason();
  out.error = s.error();
  out.stats = s.stats();
  return out;
}

// The engine's stats once every request submitted so far has finished (the caller has collected
// them all). The engine publishes stats after each step, just after that step finished its
// streams, so a finished stream alone does not mean its blocks show as free yet. A probe request
// with a one-token prompt and max_tokens 1 is admitted in a later step and finishes in that same
// step: once it has finished, the stats of every step before it are out, and no step since has
// held a block or run a sequence, whenever the scheduler ran. (`waiting` may still count the
// probe itself, queued when the stats read were published.)
inline EngineStats stats_when_idle(Engine& e) {
  GenerateRequest probe;
  probe.prompt = {e.tokenizer().encode("Hi", false, false).front()};
  probe.sampling.temperature = 0;
  probe.max_tokens = 1;
  probe.ignore_eos = true;
  const Output out = collect(*e.submit(probe));
  EXPECT_EQ(out.stats.completion_tokens, 1);
  const EngineStats st = e.stats();
  EXPECT_EQ(st.running, 0);
  return st;
}

}  // namespace nagare::test
