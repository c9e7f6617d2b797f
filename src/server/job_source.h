// JobSource: adapts an API's job (CompletionJob, OllamaJob: set_notify / poll / cancel / status)
// to the session's ResponseSource, so every API's streaming runs through the same HTTP path.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "server/http_types.h"

namespace nagare {

template <class Job>
class JobSource : public ResponseSource {
 public:
  explicit JobSource(std::unique_ptr<Job> job) : job_(std::move(job)) {}
  void start(std::function<void()> wake) override {
    job_->set_notify(wake);
    wake();  // tokens may have arrived before the notify was set
  }
  bool poll(std::string& out) override { return job_->poll(out); }
  void cancel() override { job_->cancel(); }
  int status() const override { return job_->status(); }

 private:
  std::unique_ptr<Job> job_;
};

}  // namespace nagare
