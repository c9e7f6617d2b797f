// SamplingParams: how one request turns logits into tokens. Defaults are llama.cpp's CLI defaults;
// validate() is the single place a request's values are range-checked.
#pragma once

#include <cstdint>
#include <limits>

namespace nagare {

// A seed value meaning "pick one from std::random_device" (llama.cpp's LLAMA_DEFAULT_SEED plays
// the same role). Sampler::seed() reports the seed actually used.
inline constexpr uint64_t kRandomSeed = std::numeric_limits<uint64_t>::max();

struct SamplingParams {
  float temperature = 0.8f;  // 0 means greedy (argmax after penalties)
  int32_t top_k = 40;        // 0 disables
  float top_p = 0.95f;       // 1 disables
  float min_p = 0.05f;       // 0 disables
  // llama.cpp "repeat_penalty": divides positive logits and multiplies non-positive logits of the
  // tokens seen in the last repeat_last_n tokens of history (0 disables, -1 = all history).
  float repetition_penalty = 1.0f;
  int32_t repeat_last_n = 64;
  // OpenAI-style, over the same window: logit -= count * frequency + (count > 0) * presence.
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = kRandomSeed;

  // Throws nagare::Error naming the field when a value is out of range or not a number.
  void validate() const;

  bool greedy() const { return temperature == 0.0f; }
  bool has_penalties() const {
    return repeat_last_n != 0 &&
           (repetition_penalty != 1.0f || frequency_penalty != 0.0f || presence_penalty != 0.0f);
  }
};

}  // namespace nagare
