#include "engine/request.h"

namespace nagare {

void RequestStream::set_notify(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  notify_ = std::move(fn);
}

bool RequestStream::drain(std::vector<TokenEvent>& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return finished_;
}

void RequestStream::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return finished_ || !events_.empty(); });
}

FinishReason RequestStream::finish_reason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reason_;
}

std::string RequestStream::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

RequestStats RequestStream::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::vector<float> RequestStream::embedding() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return embedding_;
}

void RequestStream::set_embedding(std::vector<float> v) {
  std::lock_guard<std::mutex> lock(mutex_);
  embedding_ = std::move(v);
}

void RequestStream::push(TokenEvent event) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
    notify = notify_;
  }
  cv_.notify_all();
  if (notify) notify();
}

void RequestStream::finish(FinishReason reason, const RequestStats& stats, std::string error) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
    finished_ = true;
    reason_ = reason;
    stats_ = stats;
    error_ = std::move(error);
    notify = notify_;
  }
  cv_.notify_all();
  if (notify) notify();
}

}  // namespace nagare
