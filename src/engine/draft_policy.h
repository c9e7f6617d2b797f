// How many speculative tokens pay for themselves. A step that checks k drafts costs about
// 1 + cost * k single-token steps (on a CPU the weights are read once for all of them, so a
// draft token costs a fraction of a step) and yields 1 + the drafts accepted, on average
// 1 + p + ... + p^k when each draft is right with probability p. The policy keeps a decaying
// count of a sequence's hits and misses, and drafts the k that yields the most tokens per cost,
// none when even one would not pay (text with nothing to quote).
#pragma once

#include <cstdint>

namespace nagare {

class DraftPolicy {
 public:
  // The prior: pseudo-counts of hits and misses before any draft was checked.
  explicit DraftPolicy(double prior_hits = 1, double prior_misses = 1) : prior_hits_(prior_hits), prior_misses_(prior_misses) {}
  // `proposed` drafts were checked; the first `accepted` of them were the tokens sampled.
  void record(int32_t proposed, int32_t accepted);
  // A step without drafts: the counts fade toward the prior, so a sequence that stopped drafting
  // tries again after a while (its text may have turned to quoting).
  void fade();
  // The best number of drafts, at most `most`, for a draft token costing `cost` of a step.
  int32_t length(int32_t most, double cost) const;
  double acceptance() const { return (hits_ + prior_hits_) / (hits_ + misses_ + prior_hits_ + prior_misses_); }

 private:
  double prior_hits_, prior_misses_;
  double hits_ = 0, misses_ = 0;
};

}  // namespace nagare
