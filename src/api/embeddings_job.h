// EmbeddingsJob: one embeddings request in flight (OpenAI's /v1/embeddings, Ollama's /api/embed
// and /api/embeddings) -- an engine request per input, submitted together so they batch, and the
// body in the asking API's shape once every vector is in. Transport-agnostic, like
// CompletionJob: the server calls poll() whenever the notify callback fires.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/api_error.h"
#include "api/embeddings_request.h"
#include "api/request_record.h"
#include "api/served_model.h"

namespace nagare {

class EmbeddingsJob {
 public:
  // Tokenizes the inputs (as llama-server: BOS/EOS as the vocabulary asks, special-token texts
  // as their ids; token ids as given) and checks what depends on the model: its name (OpenAI),
  // `dimensions` against its width, and a pooling that gives one vector per input. Throws
  // ApiError. `load_ns`: how long loading the model took for this request (Ollama reports it).
  EmbeddingsJob(const ServedModel& model, EmbeddingsRequest request, int64_t load_ns = 0);
  ~EmbeddingsJob();  // cancels whatever still runs
  EmbeddingsJob(const EmbeddingsJob&) = delete;
  EmbeddingsJob& operator=(const EmbeddingsJob&) = delete;

  // Submits the inputs to the engine, as many as it runs at once (--max-running; poll() submits
  // the rest as those finish, so one request's inputs batch together without flooding the
  // waiting queue). Throws ApiError when the engine refuses one (a token id outside the
  // vocabulary, an input longer than the context, a full queue), after cancelling the ones
  // already submitted; a refusal of a later input becomes the error body.
  void submit();
  // Called from the engine thread as inputs finish; must not block. Set after submit().
  void set_notify(const std::function<void()>& notify);
  // Submits more inputs as earlier ones finish; appends the whole body once every input is done
  // (or the error body when one failed); returns true then.
  bool poll(std::string& out);
  void cancel();  // the client went away

  bool streaming() const { return false; }
  int status() const { return status_; }
  // Token counts, outcome and timings for metrics and the audit log.
  void report(RequestRecord& record) const;

 private:
  void submit_next();  // the next input not yet submitted; throws ApiError
  // Submits inputs while fewer than --max-running of ours run; true if it submitted any.
  // Throws ApiError for a refusal, except a full queue while some of ours still run.
  bool top_up();
  ApiError refusal(const RequestError& e, size_t input) const;  // in the API's words
  void fail(const ApiError& e, std::string& out);  // the error body in the API's shape
  std::string body() const;  // the success body in the API's shape
  int64_t prompt_tokens() const;

  const ServedModel& model_;
  EmbeddingsRequest request_;
  std::chrono::steady_clock::time_point start_;
  int64_t load_ns_;
  int32_t n_embd_;
  std::vector<std::vector<int32_t>> prompts_;
  std::vector<std::shared_ptr<RequestStream>> streams_;
  std::vector<std::vector<float>> vectors_;  // per input, filled as it finishes
  std::function<void()> notify_;
  size_t remaining_ = 0;
  bool complete_ = false;
  bool failed_ = false;
  int status_ = 200;
};

// Base64 (RFC 4648, padded) of the floats as little-endian IEEE 754 single precision: OpenAI's
// encoding_format "base64".
std::string base64_floats(const float* v, size_t n);

}  // namespace nagare
