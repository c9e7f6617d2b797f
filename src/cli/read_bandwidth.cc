#include "cli/read_bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

namespace nagare {

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int reps) {
  constexpr size_t kChunk = size_t(1) << 20;  // one task: 1 MiB, so threads stay balanced
  const size_t words_per_chunk = kChunk / sizeof(uint64_t);
  const int64_t chunks = int64_t(std::max<size_t>(1, bytes / kChunk));
  // Written first, so every page is real memory (an untouched page would read as the zero page).
  std::vector<uint64_t> buf(size_t(chunks) * words_per_chunk);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = i;
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(chunks, [&](int64_t c, int) {
      const uint64_t* p = buf.data() + size_t(c) * words_per_chunk;
      // Four independent chains: the loads, not one dependency chain, set the pace.
      uint64_t a = 0, b = 0, d = 0, e = 0;
      for (size_t i = 0; i < words_per_chunk; i += 4) {
        a ^= p[i];
        b ^= p[i + 1];
        d ^= p[i + 2];
        e ^= p[i + 3];
      }
      sink.fetch_xor(a ^ b ^ d ^ e, std::memory_order_relaxed);  // keeps the reads
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(buf.size() * sizeof(uint64_t)) / s);
  }
  return best;
}

}  // namespace nagare
