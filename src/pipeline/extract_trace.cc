#include "pipeline/extract_trace.h"

#include "util/error.h"

namespace nagare {

ExtractTrace::ExtractTrace(const std::string& path) {
  if (path.empty()) return;
  file_ = std::fopen(path.c_str(), "w");
  if (!file_) throw Error("cannot write the trace file " + path);
}

ExtractTrace::~ExtractTrace() {
  if (file_) std::fclose(file_);
}

void ExtractTrace::record(const std::string& step, const LlmCall& call, const LlmResult& result, int attempt) {
  if (!file_) return;
  nlohmann::ordered_json line = {{"step", step},
                                 {"id", call.id},
                                 {"attempt", attempt},
                                 {"system", call.system},
                                 {"prompt", call.user},
                                 {"schema", call.schema},
                                 {"max_tokens", call.max_tokens},
                                 {"temperature", call.temperature},
                                 {"response", result.text},
                                 {"finish_reason", result.finish_reason},
                                 {"error", result.error},
                                 {"prompt_tokens", result.prompt_tokens},
                                 {"completion_tokens", result.completion_tokens},
                                 {"ms", result.elapsed_ms}};
  const std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

}  // namespace nagare
