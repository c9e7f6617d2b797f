// A persistent pool of worker threads for data-parallel loops. Workers spin briefly between
// jobs (the engine issues many small ones per token) and then sleep, so an idle server uses no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
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
  // are done. Tasks are handed out dynamically; which thread runs a task never changes results
  // as long as fn writes only its own task's outputs.
  void parallel_for(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

  static int default_threads();  // physical cores (logical CPUs when unknown)

 private:
  void worker(int index);
  void run_tasks(int thread);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int)>* job_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_task_{0};
  std::atomic<int> busy_workers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace nagare
