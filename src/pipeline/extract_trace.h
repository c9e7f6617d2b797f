// --trace PATH: every prompt and response of a run as JSON lines, one per LLM call (step, call
// id, the messages, the schema, the answer, tokens, time, error), for debugging prompts.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "pipeline/llm_backend.h"

namespace nagare {

class ExtractTrace {
 public:
  // "" : off. Throws Error when the file cannot be written.
  explicit ExtractTrace(const std::string& path = "");
  ~ExtractTrace();
  ExtractTrace(const ExtractTrace&) = delete;
  ExtractTrace& operator=(const ExtractTrace&) = delete;

  void record(const std::string& step, const LlmCall& call, const LlmResult& result, int attempt);

 private:
  std::FILE* file_ = nullptr;
  std::mutex mutex_;
};

}  // namespace nagare
