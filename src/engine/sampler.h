// Sampler: turns one row of logits into a token with llama.cpp's default chain (penalties ->
// top_k -> top_p -> min_p -> temperature -> softmax -> draw), reproducibly from a seed and
// without allocating per call. One Sampler per sequence; not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling_params.h"

namespace nagare {

// MT19937-64 written out so the stream is the same on every platform and standard library (it
// equals std::mt19937_64 for the same seed; the engine only needs that it is fixed).
class Mt19937_64 {
 public:
  explicit Mt19937_64(uint64_t seed = 5489) { this->seed(seed); }
  void seed(uint64_t seed);
  uint64_t next();
  // Uniform double in [0, 1) from the top 53 bits (std::uniform_real_distribution's result is
  // implementation-defined, so it is not used).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static constexpr int kN = 312;
  std::array<uint64_t, kN> mt_{};
  int index_ = kN;
};

struct TokenProb {
  int32_t token;
  float prob;
};

struct TokenLogprob {
  int32_t token;
  float logprob;
};

class Sampler {
 public:
  // Validates `params` (throws nagare::Error) and preallocates every buffer for `vocab_size`.
  Sampler(const SamplingParams& params, int32_t vocab_size);

  // logits: vocab_size floats (read only). history: the sequence so far (prompt + generated),
  // read by the penalties. NaN logits count as -inf (masked), +inf as the largest float.
  // Ties between equal logits go to the lower token id, so the result never depends on how a
  // sort implementation orders equal elements.
  int32_t sample(const float* logits, std::span<const int32_t> history);

  // Log-softmax of the raw logits (before penalties and filters), as OpenAI's logprobs report:
  // returns the logprob of `token` and fills `top` with the top.size() most likely tokens,
  // most likely first (entries past vocab_size get token -1). No allocation.
  float logprobs(const float* logits, int32_t token, std::span<TokenLogprob> top);

  // The tokens the chain would draw from and their final probabilities, most likely first
  // (for tests and llama.cpp-style n_probs reports). Allocates the returned vector.
  std::vector<TokenProb> candidates(const float* logits, std::span<const int32_t> history);

  // Restarts the random stream (kRandomSeed: a fresh random seed).
  void reset(uint64_t seed);
  uint64_t seed() const { return seed_; }  // the seed in use (the drawn one for kRandomSeed)
  const SamplingParams& params() const { return params_; }
  int32_t vocab_size() const { return n_vocab_; }

  // Top-k up to this size is selected with a bounded heap in one pass over the logits;
  // larger k falls back to nth_element over a full candidate array.
  static constexpr int32_t kHeapTopK = 4096;

 private:
  struct Cand {
    float logit;
    int32_t id;
  };
  // The total order every selection uses: higher logit first, then lower id.
  static bool better(const Cand& a, const Cand& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }
  template <class Seg, class One>
  void scan_runs(Seg&& seg, One&& one) const;
  template <class F>
  void scan(const float* logits, F&& f) const;
  void compute_penalties(const float* logits, std::span<const int32_t> history);
  int32_t argmax(const float* logits) const;
  void select_top_k_heap(const float* logits, int32_t k);
  void ensure_sorted(size_t m);
  // Runs penalties and the filters; the kept set is cand_[0, kept) (a prefix of the total
  // order), with cand_[0, sorted_) sorted.
  size_t filter(const float* logits, std::span<const int32_t> history);
  int32_t draw_in_place(size_t m, float mx);
  int32_t draw_by_id(const float* logits, size_t m);

  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t seed_ = 0;
  Mt19937_64 rng_;
  std::vector<Cand> cand_;       // vocab_size candidates
  std::vector<int32_t> window_;  // penalty window, sorted
  std::vector<Cand> overrides_;  // penalized logits, sorted by id
  size_t size_ = 0;              // candidates still in play
  size_t sorted_ = 0;            // cand_[0, sorted_) is sorted by `better`
  float max_logit_ = 0.0f;       // highest logit after penalties
  bool id_order_ = false;        // cand_[0, size_) is every token, still in id order
};

}  // namespace nagare
