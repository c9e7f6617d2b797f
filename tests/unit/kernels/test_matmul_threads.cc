// The thread pool under matmul (util/thread_pool.h): every task runs exactly once per job, on a
// valid thread index, for any task count (including ones above a job's chunk size), with workers
// spinning or asleep, and with any kind of callable. No assertion depends on timing: where a test
// waits, it waits for a state, with a deadline far beyond any normal run only so that a broken
// pool fails the test instead of hanging it.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/thread_pool.h"

namespace nagare {
namespace {

// Anti-hang only: no correct run comes anywhere near it.
constexpr auto kHangDeadline = std::chrono::seconds(30);

// Polls `done` until it holds or the deadline passes; returns whether it holds.
template <typename Pred>
bool wait_for_state(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + kHangDeadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// A barrier for `n` threads: arrive() blocks until all n have arrived, so if it returns true, n
// threads were inside it at the same time. Returns false at the anti-hang deadline instead.
class Rendezvous {
 public:
  explicit Rendezvous(int n) : n_(n), deadline_(std::chrono::steady_clock::now() + kHangDeadline) {}
  bool arrive() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (++arrived_ == n_) all_here_.notify_all();
    return all_here_.wait_until(lock, deadline_, [&] { return arrived_ >= n_; });
  }

 private:
  const int n_;
  const std::chrono::steady_clock::time_point deadline_;
  std::mutex mutex_;
  std::condition_variable all_here_;
  int arrived_ = 0;
};

// Whether Linux thread `tid` of this process is blocked (state S: the only place a pool worker
// blocks is its futex wait for the next job; spinning and yielding threads are R). Where /proc
// cannot tell (an emulator's own /proc), true: the pool's own count has to do.
bool thread_blocked(int tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return true;
  const size_t paren = stat.rfind(')');  // "tid (comm) S ...": comm may hold spaces
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  return stat[paren + 2] == 'S';
}

int current_tid() { return static_cast<int>(syscall(SYS_gettid)); }

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

// A job given to a pool whose workers are all asleep must wake every one of them: one task per
// thread, each blocking until all have arrived, can only finish if all threads run at once.
TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(4);  // three workers: waking just one of them is not enough
  const int n = pool.size();
  std::vector<int> worker_tids;  // Linux thread ids of the workers, learnt from the last job
  for (int round = 0; round < 4; ++round) {
    // Round 0 finds the workers awake (just started, or spinning); later rounds first wait for
    // every worker to have gone to sleep: counted by the pool, and blocked according to the OS.
    if (round > 0) {
      ASSERT_TRUE(wait_for_state([&] {
        if (pool.sleeping_workers() != n - 1) return false;
        for (int tid : worker_tids)
          if (!thread_blocked(tid)) return false;
        return true;
      })) << "round " << round << ": the idle workers never went to sleep (" << pool.sleeping_workers() << " of "
          << n - 1 << " say they did)";
    }
    Rendezvous all(n);
    std::vector<std::atomic<int>> tasks_on(static_cast<size_t>(n));
    std::vector<int> tids(static_cast<size_t>(n), 0);
    std::atomic<int> gave_up{0};
    pool.parallel_for(n, [&](int64_t, int thread) {
      tasks_on[size_t(thread)].fetch_add(1);
      tids[size_t(thread)] = current_tid();
      if (!all.arrive()) gave_up.fetch_add(1);
    });
    ASSERT_EQ(gave_up.load(), 0) << "round " << round << ": tasks waited in vain for all " << n
                                 << " threads to run at once: the pool did not wake every sleeping worker";
    for (int t = 0; t < n; ++t) ASSERT_EQ(tasks_on[size_t(t)].load(), 1) << "thread " << t << " in round " << round;
    worker_tids.assign(tids.begin() + 1, tids.end());  // thread 0 is this one
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
