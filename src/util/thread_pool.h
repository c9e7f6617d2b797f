// A persistent pool of worker threads for data-parallel loops. Workers spin briefly between
// jobs (the engine issues many small ones per token) and then sleep, so an idle server uses no
// CPU. Handing out and finishing a job takes no lock: tasks are claimed with one atomic
// compare-and-swap, a shrinking run of them at a time (guided scheduling), and the caller waits
// for the tasks, not for every worker to check in.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace nagare {

class ThreadPool {
 public:
  // n_threads counts the calling thread, which always takes part; 0 means physical cores.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(task, thread) for every task in [0, n_tasks) across the pool and returns when all
  // are done; thread is in [0, size()). Tasks are handed out dynamically; which thread runs a
  // task never changes results as long as fn writes only its own task's outputs. fn is any
  // callable; it is called in place (no copy, no allocation). Not reentrant: fn must not call
  // parallel_for on the same pool, and one thread at a time drives a pool.
  template <typename Fn>
  void parallel_for(int64_t n_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run(n_tasks, [](void* f, int64_t task, int thread) { (*static_cast<F*>(f))(task, thread); },
        const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
  }

  static int default_threads();  // physical cores (logical CPUs when unknown)

  // Workers that found no job and are asleep or about to sleep (they still re-check for a job
  // before blocking). For tests and diagnostics: a test waits for this to reach size() - 1 to
  // know the next job must wake them.
  int sleeping_workers() const { return sleepers_.load(std::memory_order_seq_cst); }

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);
  void run(int64_t n_tasks, TaskFn fn, void* ctx);
  void run_chunk(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker(int index);
  void run_tasks(uint64_t generation, int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  // The current job: [generation : 24][task count : 20][next task : 20], claimed by CAS, so a
  // worker that wakes late can never take a task of a job that has already finished. The job's
  // function sits on the same cache line (a claim brings it along); the finished count, which
  // the caller polls while it waits, and the sleep bookkeeping each have a line of their own, so
  // polling does not steal the line the workers claim from.
  alignas(64) std::atomic<uint64_t> state_{0};
  TaskFn fn_ = nullptr;  // the current job, valid while it has unclaimed tasks
  void* ctx_ = nullptr;
  uint64_t generation_ = 0;
  alignas(64) std::atomic<int64_t> done_{0};  // tasks of the current job finished
  alignas(64) std::atomic<uint32_t> wake_{0};  // bumped to wake sleeping workers (futex via atomic wait)
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace nagare
