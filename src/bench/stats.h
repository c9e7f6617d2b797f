// Summary statistics of a sample of timings: mean and linearly interpolated percentiles (the
// same definition as numpy.percentile's default, so numbers match Python tooling).
#pragma once

#include <cstddef>
#include <vector>

namespace nagare::bench {

struct Summary {
  size_t count = 0;
  double mean = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;
};

// p in [0, 100] of an ascending-sorted sample; 0 for an empty one.
double percentile_sorted(const std::vector<double>& sorted, double p);

// Sorts a copy; an empty sample gives an all-zero Summary with count 0.
Summary summarize(std::vector<double> values);

}  // namespace nagare::bench
