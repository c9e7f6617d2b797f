// Embeddings from a prompt's last hidden states: the pooling kinds (llama.cpp's pooling_type),
// the per-sequence Pooler that folds in the rows as the scheduler computes them, and llama.cpp's
// normalization of the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nagare {

class GgufFile;

// mean: the average over every prompt token; cls: the first token's; last: the last token's;
// none: every token's own vector.
enum class Pooling { kNone, kMean, kCls, kLast };

const char* pooling_name(Pooling p);                          // "none", "mean", "cls", "last"
std::optional<Pooling> parse_pooling(std::string_view name);  // nullopt for any other name

// A model's default: its GGUF's `<arch>.pooling_type` (llama.cpp's numbers: 0 none, 1 mean,
// 2 cls, 3 last) when present and one of those, else mean. Decoder models (the test models)
// have no such key; llama.cpp then pools nothing, which OpenAI's one-vector-per-input shape
// cannot carry, so mean is the useful default.
Pooling model_pooling(const GgufFile& file, const std::string& arch);

// What an embedding request asks on top of its prompt (GenerateRequest::embedding).
struct EmbeddingParams {
  std::optional<Pooling> pooling;  // nullopt: the engine's (EngineOptions::pooling)
  // As llama.cpp's embd_normalize: -1 none, 0 max-abs scaled to int16's range, 2 Euclidean
  // (the default, as llama-server and llama-cpp-python's embed(normalize=True)), p > 0 p-norm.
  int32_t normalize = 2;
};

// llama.cpp's common_embd_normalize(v, v, n, norm), in place.
void normalize_embedding(float* v, int64_t n, int32_t norm);

// Pools one sequence's hidden rows, whatever steps and chunks they come in: each prompt position
// counts once, in position order (the mean sums in that fixed order, so its bits do not depend
// on how the prompt was chunked or batched). A position seen again (recomputed after a
// preemption, with the same bits) is skipped.
class Pooler {
 public:
  Pooler() = default;
  Pooler(Pooling pooling, int32_t n_prompt, int32_t n_embd);

  Pooling pooling() const { return pooling_; }
  // Whether the hidden state of prompt position `pos` is needed.
  bool wants(int32_t pos) const;
  // How many leading prompt tokens may come from the prefix cache (their hidden states are not
  // computed then): those already pooled, and for last pooling all but the last.
  int32_t reusable_prefix() const;
  // The batch computed positions [first, first + count); the rows of those wants() picked, in
  // position order, start at `rows` (n_embd floats each). Returns how many rows it read.
  int64_t take(int32_t first, int32_t count, const float* rows);
  // Every needed position pooled.
  bool complete() const { return n_done_ >= n_prompt_; }
  // The pooled vector (none: n_prompt vectors, one after another), each normalized as asked.
  std::vector<float> result(int32_t normalize) const;

 private:
  Pooling pooling_ = Pooling::kMean;
  int32_t n_prompt_ = 0, n_embd_ = 0;
  int32_t n_done_ = 0;       // positions [0, n_done_) have been computed and pooled
  std::vector<double> sum_;  // mean: the running sum
  std::vector<float> rows_;  // cls, last: the row; none: every row
};

}  // namespace nagare
