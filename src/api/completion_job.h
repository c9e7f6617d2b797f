// CompletionJob: one OpenAI completion request in flight -- its n x prompts engine requests, and
// the bytes the client gets back (SSE chunks as tokens arrive, or one JSON body at the end).
// Transport-agnostic: the server calls poll() whenever the notify callback fires.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/request_record.h"
#include "api/response_cache.h"
#include "api/served_model.h"

namespace nagare {

class CompletionJob {
 public:
  // Checks the model name, builds and checks the prompts; throws ApiError. Nothing runs yet.
  // With a `cache`, a deterministic request is answered from it when it can be, and stored in
  // it once answered.
  CompletionJob(const ServedModel& model, OpenAiRequest request, ResponseCache* cache = nullptr);
  ~CompletionJob();  // cancels whatever still runs
  CompletionJob(const CompletionJob&) = delete;
  CompletionJob& operator=(const CompletionJob&) = delete;

  // Submits every choice to the engine; throws ApiError (400) when the engine rejects one (the
  // ones already submitted are cancelled).
  void submit();
  // Called from the engine thread after each token or finish of any choice; must not block.
  // Set after submit(); poll() once afterwards, as events may predate it.
  void set_notify(const std::function<void()>& notify);
  // Streaming: appends the SSE bytes ready now. Otherwise appends the whole body once every
  // choice is done. Returns true when the response is complete.
  bool poll(std::string& out);
  // The client went away: cancels every choice (the engine frees their KV blocks).
  void cancel();

  bool streaming() const { return request_.stream; }
  // After submit(): "hit" (answered from the cache), "miss" (cacheable, computed), or "" (not
  // deterministic, or no cache).
  const std::string& cache_status() const { return cache_status_; }
  // Status of the non-streaming body: 200, or an error status when the engine failed.
  int status() const { return status_; }
  const std::string& id() const { return formatter_.id(); }
  // Token counts, finish reason, timings and the answer's text, for metrics and the audit log
  // (also partway, after cancel()).
  void report(RequestRecord& record) const;

 private:
  struct Choice {
    int32_t index = 0;
    size_t prompt = 0;  // index into prompts_
    std::shared_ptr<RequestStream> stream;
    bool started = false;   // role chunk sent
    bool done = false;
    FinishReason finish = FinishReason::kNone;
    int64_t text_bytes = 0;  // piece bytes so far (legacy logprobs text_offset)
    ChoiceResult result;     // non-streaming accumulation
    std::string transcript;  // every piece of text so far, streaming or not (report())
    int64_t tokens_seen = 0; // generated tokens received so far (the engine's stats come at the end)
    bool replay = false;     // events come from the cache: one stream chunk per token
    std::vector<TokenEvent> recorded;  // for the cache, when this answer is to be stored
    std::optional<ToolCallStream> tool_stream;  // streaming chat with tools: holds calls back
  };
  void poll_choice(Choice& c, std::string& out);
  // Streaming: the text of new events as it may go out now (with tools, calls are held back).
  std::string stream_text(Choice& c, std::string_view text);
  void fail(FinishReason reason, const std::string& message, std::string& out);
  Usage usage() const;

  bool answer_from_cache(const std::vector<GenerateRequest>& requests);
  void store_in_cache();

  const ServedModel& model_;
  OpenAiRequest request_;
  bool tools_ = false;  // a chat with tools: the output is parsed for calls
  ToolCallFormat tool_format_ = ToolCallFormat::kGeneric;
  ResponseCache* cache_ = nullptr;
  std::string cache_key_;  // set while the answer is to be stored
  std::string cache_status_;
  std::vector<std::vector<int32_t>> prompts_;
  OpenAiFormatter formatter_;
  std::vector<Choice> choices_;
  std::vector<TokenEvent> scratch_;
  size_t remaining_ = 0;
  bool failed_ = false;
  bool complete_ = false;
  int status_ = 200;
  std::string error_body_;
};

}  // namespace nagare
