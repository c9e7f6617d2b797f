// JobSource: adapts an API's job (CompletionJob, OllamaJob: set_notify / poll / cancel / status)
// to the session's ResponseSource, so every API's streaming runs through the same HTTP path.
// It also holds the request's model lease, so the model stays loaded until the response ends.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "server/http_types.h"

namespace nagare {

template <class Job>
class JobSource : public ResponseSource {
 public:
  // `hold` (a ModelLease) outlives the job, which refers to the model.
  explicit JobSource(std::unique_ptr<Job> job, std::shared_ptr<const void> hold = nullptr)
      : hold_(std::move(hold)), job_(std::move(job)) {}
  void start(std::function<void()> wake) override {
    job_->set_notify(wake);
    wake();  // tokens may have arrived before the notify was set
  }
  bool poll(std::string& out) override { return job_->poll(out); }
  void cancel() override { job_->cancel(); }
  int status() const override { return job_->status(); }

 private:
  std::shared_ptr<const void> hold_;  // declared first: released after the job
  std::unique_ptr<Job> job_;
};

}  // namespace nagare
