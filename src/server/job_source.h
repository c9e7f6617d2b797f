// JobSource: adapts an API's job (CompletionJob, OllamaJob: set_notify / poll / cancel / status /
// report) to the session's ResponseSource, so every API's streaming runs through the same HTTP
// path. It holds the request's model lease, so the model stays loaded until the response ends,
// and has the job fill the request's record (tokens, finish reason, timings, text) at its end.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/json_fields.h"
#include "server/http_types.h"

namespace nagare {

template <class Job>
class JobSource : public ResponseSource {
 public:
  // `hold` (a ModelLease) outlives the job, which refers to the model; `record` may be null.
  JobSource(std::unique_ptr<Job> job, std::shared_ptr<const void> hold, std::shared_ptr<RequestRecord> record)
      : hold_(std::move(hold)), job_(std::move(job)), record_(std::move(record)) {}
  void start(std::function<void()> wake) override {
    job_->set_notify(wake);
    wake();  // tokens may have arrived before the notify was set
  }
  bool poll(std::string& out) override {
    const bool done = job_->poll(out);
    if (done) report();
    return done;
  }
  void cancel() override {
    job_->cancel();
    report();  // what was generated before the client left
  }
  int status() const override { return job_->status(); }

 private:
  void report() {
    if (record_ && !reported_) job_->report(*record_);
    reported_ = true;
  }

  std::shared_ptr<const void> hold_;  // declared first: released after the job
  std::unique_ptr<Job> job_;
  std::shared_ptr<RequestRecord> record_;
  bool reported_ = false;
};

// Notes on the request's record what a generation request asks: its API, model, whether it
// streams, its `text_field` ("messages", "prompt") as sent, and the client's own `user` field
// when no key named the user.
inline void note_generation(const HttpRequest& req, const Json& body, const char* api, const char* text_field,
                            bool stream) {
  if (!req.record) return;
  RequestRecord& r = *req.record;
  r.api = api;
  r.stream = stream;
  if (auto m = get_string(body, "model")) r.model = *m;
  if (auto it = body.find(text_field); it != body.end()) r.request_text = it->dump();
  if (r.user.empty())
    if (auto u = body.find("user"); u != body.end() && u->is_string()) r.user = u->get<std::string>();
}

}  // namespace nagare
