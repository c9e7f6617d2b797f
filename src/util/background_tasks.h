// BackgroundTasks: work on detached threads that must not outlive its owner (a pull started by
// an HTTP request runs on after the request's connection is gone). stop(), or the destructor,
// asks every task to cancel and waits for all of them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace nagare {

class BackgroundTasks {
 public:
  using Cancel = std::shared_ptr<std::atomic<bool>>;

  BackgroundTasks() = default;
  BackgroundTasks(const BackgroundTasks&) = delete;
  BackgroundTasks& operator=(const BackgroundTasks&) = delete;
  ~BackgroundTasks() { stop(); }

  // Runs task() on a new thread; `cancel` becomes true when stop() is called (others may set it
  // too). Returns false, running nothing, once stop() has been called.
  bool start(std::function<void()> task, Cancel cancel) {
    {
      std::lock_guard lk(mu_);
      if (stopped_) return false;
      ++running_;
      cancels_.insert(cancel);
    }
    std::thread([this, task = std::move(task), cancel] {
      task();
      std::lock_guard lk(mu_);
      cancels_.erase(cancel);
      if (--running_ == 0) idle_.notify_all();
    }).detach();
    return true;
  }

  void stop() {
    std::unique_lock lk(mu_);
    stopped_ = true;
    for (const Cancel& c : cancels_) c->store(true);
    idle_.wait(lk, [this] { return running_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  int running_ = 0;
  bool stopped_ = false;
  std::set<Cancel> cancels_;
};

}  // namespace nagare
