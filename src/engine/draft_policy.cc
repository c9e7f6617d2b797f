#include "engine/draft_policy.h"

namespace nagare {

void DraftPolicy::record(int32_t proposed, int32_t accepted) {
  // Recent steps weigh most: a sequence that starts quoting (or stops) is followed within a few.
  constexpr double kDecay = 0.8;
  hits_ = kDecay * hits_ + accepted;
  misses_ = kDecay * misses_ + (accepted < proposed ? 1 : 0);
}

void DraftPolicy::fade() {
  constexpr double kFade = 0.95;  // about 20 steps from "never" back to one draft
  hits_ *= kFade;
  misses_ *= kFade;
}

int32_t DraftPolicy::length(int32_t most, double cost) const {
  const double p = acceptance();
  double expected = 1, term = 1, best_rate = 1;  // k = 0: one token for one step
  int32_t best = 0;
  for (int32_t k = 1; k <= most; ++k) {
    term *= p;
    expected += term;
    const double rate = expected / (1 + cost * k);
    if (rate > best_rate) {
      best_rate = rate;
      best = k;
    }
  }
  return best;
}

}  // namespace nagare
