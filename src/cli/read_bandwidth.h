// Memory read bandwidth as the decode loop sees it: streaming reads of a buffer far larger
// than the caches, split over the same thread pool. The roofline of `nagare bench-model`
// divides it by the weight bytes one token reads.
#pragma once

#include <cstddef>

#include "util/thread_pool.h"

namespace nagare {

// Best of `reps` passes over a fresh `bytes`-byte buffer, in bytes per second.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes = size_t(512) << 20, int reps = 5);

}  // namespace nagare
