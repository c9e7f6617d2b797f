// What the benchmark sends: request bodies (messages or prompt, max_tokens, sampling fields)
// from a synthetic generator (random words, shared prefix) or a JSON / JSONL file of requests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nagare::bench {

enum class Endpoint { kChat, kCompletions };

struct WorkloadOptions {
  std::string kind = "random";  // "random", "shared-prefix", or a path to a .json / .jsonl file
  Endpoint endpoint = Endpoint::kChat;
  int64_t input_len = -1;   // words per prompt (random) or per unique suffix (shared-prefix); -1: default
  int64_t output_len = -1;  // max_tokens; -1: the file's own, or the default for synthetic ones
  int64_t prefix_len = 1500;
  uint64_t seed = 0;
};

// Defaults for synthetic workloads when --input-len / --output-len are not given.
inline constexpr int64_t kDefaultRandomInputLen = 256;
inline constexpr int64_t kDefaultSuffixLen = 32;
inline constexpr int64_t kDefaultOutputLen = 128;

class Workload {
 public:
  // Throws nagare::Error naming the file and the request when a file is unreadable or malformed.
  static Workload create(const WorkloadOptions& options);

  // The i-th request body (no "model" or "stream"; the runner adds those). Synthetic prompts
  // are a pure function of (seed, i), so every request of a run differs and reruns repeat.
  nlohmann::json request(uint64_t i) const;

  const std::string& name() const { return name_; }
  // A file's own "concurrency" list: the default sweep. Empty for synthetic workloads.
  const std::vector<int>& default_concurrency() const { return concurrency_; }
  // Describes the workload for the result file.
  nlohmann::json describe() const;

 private:
  WorkloadOptions opt_;
  std::string name_;
  std::vector<nlohmann::json> bodies_;  // file workloads, cycled
  std::string prefix_;                  // shared-prefix workloads
  std::vector<int> concurrency_;
};

// n words drawn from word_list() by a generator seeded with `seed`, separated by spaces.
std::string random_words(uint64_t seed, int64_t n);

// Parses a workload file's text (JSON object / array / {"requests": [...]} or JSONL) into request
// bodies and the optional concurrency list; `source` names it in errors.
void parse_workload_text(const std::string& text, const std::string& source, Endpoint endpoint,
                         std::vector<nlohmann::json>& bodies, std::vector<int>& concurrency,
                         std::string& name);

}  // namespace nagare::bench
