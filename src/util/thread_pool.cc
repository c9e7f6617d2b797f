#include "util/thread_pool.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NAGARE_PAUSE() _mm_pause()
#else
#define NAGARE_PAUSE() std::this_thread::yield()
#endif

namespace nagare {
namespace {

constexpr int kSpinIterations = 20000;  // ~ tens of microseconds before a worker sleeps
constexpr int kWaitSpinsBeforeYield = 2000;  // the caller, waiting for a task another thread holds

constexpr int kIndexBits = 20, kGenerationBits = 24;
constexpr uint64_t kIndexMask = (uint64_t(1) << kIndexBits) - 1;
constexpr uint64_t kGenerationMask = (uint64_t(1) << kGenerationBits) - 1;
constexpr int64_t kMaxChunk = int64_t(kIndexMask);  // tasks per job; larger loops run in chunks

constexpr uint64_t pack(uint64_t generation, uint64_t n_tasks, uint64_t next) {
  return (generation << (2 * kIndexBits)) | (n_tasks << kIndexBits) | next;
}
constexpr uint64_t generation_of(uint64_t s) { return s >> (2 * kIndexBits); }
constexpr uint64_t n_tasks_of(uint64_t s) { return (s >> kIndexBits) & kIndexMask; }
constexpr uint64_t next_of(uint64_t s) { return s & kIndexMask; }

}  // namespace

int ThreadPool::default_threads() {
  // Count distinct (physical id, core id) pairs: hyper-threads share a core's SIMD units.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(cpuinfo, line)) {
    auto value = [&] { return line.substr(line.find(':') + 1); };
    if (line.rfind("physical id", 0) == 0) phys = value();
    if (line.rfind("core id", 0) == 0) cores.insert({phys, value()});
  }
  int n = int(cores.size());
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  return n > 0 ? n : 1;
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : default_threads()) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  state_.store(pack((generation_ + 1) & kGenerationMask, 0, 0), std::memory_order_seq_cst);
  wake_.fetch_add(1, std::memory_order_seq_cst);
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_tasks(uint64_t generation, int thread) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (generation_of(s) != generation || next_of(s) >= n_tasks_of(s)) return;
    // Guided scheduling: a claim takes a share of what is left (an eighth per thread pair),
    // so a job costs a few claims per thread instead of one per task, each thread works through
    // a contiguous range (its prefetches run ahead into its own next task), and the last
    // claims are single tasks that even out the finish.
    const uint64_t left = n_tasks_of(s) - next_of(s);
    const uint64_t take = std::max<uint64_t>(1, left / (4 * uint64_t(n_threads_)));
    if (!state_.compare_exchange_weak(s, s + take, std::memory_order_acquire, std::memory_order_acquire)) continue;
    // The claim succeeded while the job had tasks left, so it cannot finish (and fn_/ctx_ cannot
    // change) before these tasks are done.
    for (uint64_t i = 0; i < take; ++i) fn_(ctx_, int64_t(next_of(s) + i), thread);
    done_.fetch_add(int64_t(take), std::memory_order_release);
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::run(int64_t n_tasks, TaskFn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t, 0);
    return;
  }
  if (n_tasks <= kMaxChunk) return run_chunk(n_tasks, fn, ctx);
  struct Offset {
    TaskFn fn;
    void* ctx;
    int64_t base;
  };
  for (int64_t base = 0; base < n_tasks; base += kMaxChunk) {
    Offset o{fn, ctx, base};
    run_chunk(std::min(kMaxChunk, n_tasks - base),
              [](void* p, int64_t task, int thread) {
                auto* o = static_cast<Offset*>(p);
                o->fn(o->ctx, o->base + task, thread);
              },
              &o);
  }
}

void ThreadPool::run_chunk(int64_t n_tasks, TaskFn fn, void* ctx) {
  fn_ = fn;
  ctx_ = ctx;
  done_.store(0, std::memory_order_relaxed);
  generation_ = (generation_ + 1) & kGenerationMask;
  // seq_cst store and load pair with the sleeping worker's (see worker()): either it sees this
  // job or this thread sees it asleep and wakes it.
  state_.store(pack(generation_, uint64_t(n_tasks), 0), std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    wake_.fetch_add(1, std::memory_order_seq_cst);
    wake_.notify_all();
  }
  run_tasks(generation_, 0);
  // Only tasks another thread is still running are left; on a busy machine that thread may be
  // waiting for a CPU, so give ours up now and then.
  for (int spins = 0; done_.load(std::memory_order_acquire) != n_tasks; ++spins) {
    if (spins < kWaitSpinsBeforeYield) {
      NAGARE_PAUSE();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (int spin = 0; generation_of(s) == seen && spin < kSpinIterations; ++spin) {
      NAGARE_PAUSE();
      s = state_.load(std::memory_order_acquire);
    }
    while (generation_of(s) == seen && !stop_.load(std::memory_order_acquire)) {
      const uint32_t w = wake_.load(std::memory_order_seq_cst);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      s = state_.load(std::memory_order_seq_cst);
      if (generation_of(s) == seen && !stop_.load(std::memory_order_seq_cst)) wake_.wait(w, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      s = state_.load(std::memory_order_acquire);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_of(s);
    run_tasks(seen, index);
  }
}

}  // namespace nagare
