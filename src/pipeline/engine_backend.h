// The pipeline's LLM calls on nagare's own engine in this process: every call is submitted at
// once (up to --parallel), so the scheduler runs them as one continuous batch, and a call with a
// schema is constrained by its grammar.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/chat_prompt.h"
#include "engine/engine.h"
#include "pipeline/llm_backend.h"

namespace nagare {

struct EngineBackendOptions {
  std::string model_path;
  std::string model_name;                     // as the user named it, for the report
  std::optional<std::string> template_text;   // a store manifest's TEMPLATE
  int32_t ctx_size = 8192;                    // capped at the model's training context
  int32_t threads = 0;                        // 0: physical cores
  int parallel = 16;                          // sequences the KV cache is sized for
};

class EngineBackend : public LlmBackend {
 public:
  explicit EngineBackend(const EngineBackendOptions& options);  // loads the model; throws Error
  ~EngineBackend() override;

  std::vector<LlmResult> run(const std::vector<LlmCall>& calls, int parallel,
                             const std::function<void(size_t, const LlmResult&)>& on_done) override;
  int32_t context_tokens() const override;
  int32_t count_prompt_tokens(const LlmCall& call) const override;
  int default_parallel() const override { return parallel_; }
  std::string describe() const override { return "nagare engine (in process): " + name_; }

 private:
  std::vector<int32_t> prompt_tokens(const LlmCall& call) const;
  std::shared_ptr<const Grammar> grammar_for(const nlohmann::ordered_json& schema);

  std::string name_;
  int parallel_;
  std::unique_ptr<ChatPrompt> chat_;
  std::unique_ptr<Engine> engine_;
  std::mutex grammars_mutex_;
  std::map<std::string, std::shared_ptr<const Grammar>> grammars_;  // by the schema's text
};

}  // namespace nagare
