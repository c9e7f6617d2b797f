// The thread pool under matmul (util/thread_pool.h): every task runs exactly once per job, on a
// valid thread index, for any task count (including ones above a job's chunk size), with workers
// spinning or asleep, and with any kind of callable.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "util/thread_pool.h"

namespace nagare {
namespace {

void check_exactly_once(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::atomic<int> bad_thread{0};
  pool.parallel_for(n, [&](int64_t task, int thread) {
    hits[size_t(task)].fetch_add(1, std::memory_order_relaxed);
    if (thread < 0 || thread >= pool.size()) bad_thread.fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "task " << i << " of " << n;
  EXPECT_EQ(bad_thread.load(), 0);
}

TEST(ThreadPool, EveryTaskOnceForManySizes) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 100000}) check_exactly_once(pool, n);
  }
}

TEST(ThreadPool, ManyBackToBackJobs) {
  // Small jobs in a tight loop: a late worker must never take a task of a finished job.
  ThreadPool pool(3);
  std::vector<int64_t> sums(5000);
  for (size_t j = 0; j < sums.size(); ++j) {
    std::vector<int64_t> part(17, 0);
    pool.parallel_for(int64_t(part.size()), [&](int64_t task, int) { part[size_t(task)] = task * int64_t(j); });
    for (int64_t v : part) sums[j] += v;
  }
  for (size_t j = 0; j < sums.size(); ++j) ASSERT_EQ(sums[j], 136 * int64_t(j)) << "job " << j;
}

TEST(ThreadPool, MoreTasksThanOneJobHolds) {
  ThreadPool pool(2);
  check_exactly_once(pool, (int64_t(1) << 20) + 5);
}

TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // long enough for workers to sleep
    std::atomic<int> other{0};
    // Tasks that take a while, so the worker (if awake) gets some of them.
    pool.parallel_for(64, [&](int64_t, int thread) {
      if (thread != 0) other.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
    EXPECT_GT(other.load(), 0) << "the sleeping worker never joined in round " << round;
  }
}

TEST(ThreadPool, AcceptsAnyCallable) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  const std::function<void(int64_t, int)> fn = [&](int64_t t, int) { sum += t; };
  pool.parallel_for(100, fn);
  const auto lambda = [&](int64_t t, int) { sum += t; };
  pool.parallel_for(100, lambda);
  struct Functor {
    std::atomic<int64_t>* s;
    void operator()(int64_t t, int) const { *s += t; }
  };
  pool.parallel_for(100, Functor{&sum});
  EXPECT_EQ(sum.load(), 3 * 4950);
}

TEST(ThreadPool, DefaultThreadsIsPositive) {
  EXPECT_GE(ThreadPool::default_threads(), 1);
  ThreadPool pool;
  EXPECT_EQ(pool.size(), ThreadPool::default_threads());
}

}  // namespace
}  // namespace nagare
