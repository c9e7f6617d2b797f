// An LlmBackend for the pipeline tests: answers each call with a function of the call, counts
// tokens as bytes / 2, and records every call it got.
#pragma once

#include <fstream>
#include <functional>
#include <mutex>

#include "pipeline/llm_backend.h"
#include "util/error.h"

namespace nagare {

class ScriptedLlm : public LlmBackend {
 public:
  explicit ScriptedLlm(int32_t ctx) : ctx_(ctx) {}

  std::function<std::string(const LlmCall&)> answer;
  std::vector<LlmCall> calls;

  std::vector<LlmResult> run(const std::vector<LlmCall>& batch, int,
                             const std::function<void(size_t, const LlmResult&)>& on_done) override {
    std::vector<LlmResult> out;
    for (size_t i = 0; i < batch.size(); ++i) {
      calls.push_back(batch[i]);
      LlmResult r;
      if (count_prompt_tokens(batch[i]) + batch[i].max_tokens > ctx_) {
        r.error = "over the context";
      } else {
        r.text = answer(batch[i]);
        r.finish_reason = "stop";
        r.prompt_tokens = count_prompt_tokens(batch[i]);
        r.completion_tokens = int32_t(r.text.size() / 2);
      }
      out.push_back(r);
      if (on_done) on_done(i, r);
    }
    return out;
  }
  int32_t context_tokens() const override { return ctx_; }
  int32_t count_prompt_tokens(const LlmCall& c) const override { return int32_t((c.system.size() + c.user.size()) / 2); }
  int default_parallel() const override { return 4; }
  std::string describe() const override { return "scripted"; }

 private:
  int32_t ctx_;
};

}  // namespace nagare
