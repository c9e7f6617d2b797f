#include "api/completion_job.h"
#include <algorithm>

#include <ctime>

#include "api/api_error.h"

namespace nagare {

CompletionJob::CompletionJob(const ServedModel& model, OpenAiRequest request, ResponseCache* cache)
    : model_(model), request_(std::move(request)), cache_(cache),
      formatter_(request_.endpoint, model.name(), model.engine().tokenizer(),
                 request_.stream && request_.include_usage, int64_t(std::time(nullptr))) {
  model_.check_model(request_.model);
  tools_ = request_.endpoint == Endpoint::kChat && request_.tools.active();
  if (tools_) {
    tool_format_ = tool_call_format(model_.chat().chat_template().source());
    if (auto grammar = tool_call_grammar(request_.tools, tool_format_)) {
      if (request_.generate.grammar)
        throw ApiError::invalid("a required tool call cannot be combined with 'response_format' or a grammar", "tool_choice");
      request_.generate.grammar = std::move(grammar);
    }
  }
  prompts_ = model_.prompts().prompt_tokens(request_);
  if (!request_.prediction.empty())
    request_.generate.prediction = model_.engine().tokenizer().encode(request_.prediction, false, false);
  const size_t n = static_cast<size_t>(request_.n);
  choices_.resize(prompts_.size() * n);
  for (size_t i = 0; i < choices_.size(); ++i) {
    choices_[i].index = static_cast<int32_t>(i);
    choices_[i].prompt = i / n;
    if (tools_ && request_.stream) choices_[i].tool_stream.emplace(tool_format_);
  }
}

CompletionJob::~CompletionJob() { cancel(); }

void CompletionJob::submit() {
  std::vector<GenerateRequest> requests;
  for (Choice& c : choices_) {
    GenerateRequest g = request_.generate;
    g.prompt = prompts_[c.prompt];
    g.top_logprobs = request_.logprobs;
    if (request_.seeded) g.sampling.seed += static_cast<uint64_t>(c.index);
    g.max_tokens_must_fit = true;  // OpenAI refuses a max_tokens the context cannot hold
    requests.push_back(std::move(g));
  }
  remaining_ = choices_.size();
  if (answer_from_cache(requests)) return;
  for (Choice& c : choices_) {
    try {
      c.stream = model_.engine().submit(std::move(requests[size_t(c.index)]));
    } catch (const RequestError& e) {
      cancel();
      throw ApiError::from_engine(e, request_.endpoint == Endpoint::kChat ? "messages" : "prompt");
    }
  }
}

bool CompletionJob::answer_from_cache(const std::vector<GenerateRequest>& requests) {
  // Only requests the engine accepted are stored, and the key holds the model's context: a hit
  // is a request the engine would accept, so its limits need no second check here.
  if (!cache_ || !ResponseCache::deterministic(request_.generate, request_.seeded)) return false;
  cache_key_ = ResponseCache::key(model_.identity(), request_.endpoint == Endpoint::kChat ? "chat" : "completion", requests);
  auto hit = cache_->get(cache_key_, choices_.size());
  if (!hit) {
    cache_status_ = "miss";
    return false;
  }
  cache_status_ = "hit";
  cache_key_.clear();
  for (size_t i = 0; i < choices_.size(); ++i) {
    choices_[i].stream = std::move((*hit)[i]).replay();
    choices_[i].replay = true;
  }
  return true;
}

void CompletionJob::store_in_cache() {
  if (!cache_ || cache_key_.empty()) return;
  std::vector<CachedChoice> out;
  for (Choice& c : choices_) {
    if (c.finish != FinishReason::kStop && c.finish != FinishReason::kLength) return;  // not a whole answer
    out.push_back({std::move(c.recorded), c.finish, c.stream->stats()});
  }
  cache_->put(cache_key_, out);
  cache_key_.clear();
}

void CompletionJob::set_notify(const std::function<void()>& notify) {
  for (Choice& c : choices_)
    if (c.stream) c.stream->set_notify(notify);
}

void CompletionJob::cancel() {
  for (Choice& c : choices_)
    if (c.stream && !c.done) c.stream->cancel();
}

Usage CompletionJob::usage() const {
  Usage u;
  for (const auto& p : prompts_) u.prompt_tokens += int64_t(p.size());
  for (const Choice& c : choices_) {
    if (!c.stream) continue;
    const RequestStats s = c.stream->stats();
    u.completion_tokens += s.completion_tokens;
    u.accepted_draft_tokens += s.draft_accepted_tokens;
    u.rejected_draft_tokens += s.draft_tokens - s.draft_accepted_tokens;
    // Each prompt counts once however many choices it has (as OpenAI counts n > 1).
    if (c.index % request_.n == 0) u.cached_tokens += s.cached_prompt_tokens;
  }
  return u;
}

void CompletionJob::report(RequestRecord& r) const {
  r.api = "openai";
  r.model = model_.name();
  r.cache = cache_status_;
  r.stream = request_.stream;
  r.generation = true;
  const Usage u = usage();
  r.prompt_tokens = u.prompt_tokens;
  r.cached_tokens = u.cached_tokens;
  r.completion_tokens = u.completion_tokens;
  if (!complete_) {  // cut short: count what was generated so far
    int64_t seen = 0;
    for (const Choice& c : choices_) seen += c.tokens_seen;
    r.completion_tokens = std::max(r.completion_tokens, seen);
  }
  if (choices_.empty()) return;
  const Choice& first = choices_.front();
  r.finish_reason = first.done ? (first.finish == FinishReason::kNone ? "stop" : finish_reason_name(first.finish))
                               : "cancelled";
  if (first.done && first.finish != FinishReason::kError && first.finish != FinishReason::kCancelled)
    r.finish_reason = openai_finish_reason(first.finish);
  if (first.stream) record_timings(r, first.stream->stats());
  if (choices_.size() == 1) {
    r.response_text = first.transcript;
  } else {
    Json all = Json::array();
    for (const Choice& c : choices_) all.push_back(c.transcript);
    r.response_text = all.dump();
  }
}

// An engine failure (or the engine shutting down) ends the whole response: the other choices
// are cancelled; a stream gets an error event, a body becomes an error response.
void CompletionJob::fail(FinishReason reason, const std::string& message, std::string& out) {
  failed_ = true;
  cancel();
  const bool shutdown = reason == FinishReason::kCancelled;
  status_ = shutdown ? 503 : 500;
  const std::string text = shutdown ? "the request was cancelled (the server is shutting down)"
                                    : "generation failed: " + (message.empty() ? std::string("unknown error") : message);
  const Json err = error_json(text, error_type_for_status(status_));
  if (request_.stream) out += OpenAiFormatter::sse(err);
  else error_body_ = to_wire(err);
}

std::string CompletionJob::stream_text(Choice& c, std::string_view text) {
  return c.tool_stream ? c.tool_stream->push(text) : std::string(text);
}

void CompletionJob::poll_choice(Choice& c, std::string& out) {
  const bool chat = request_.endpoint == Endpoint::kChat;
  const bool with_logprobs = request_.logprobs >= 0;
  if (request_.stream && chat && !c.started) out += OpenAiFormatter::sse(formatter_.role_chunk(c.index));
  c.started = true;

  scratch_.clear();
  const bool finished = c.stream->drain(scratch_);
  if (!scratch_.empty()) {
    for (const TokenEvent& e : scratch_) {
      c.transcript += e.text;
      c.tokens_seen += e.token >= 0;
      if (!cache_key_.empty()) c.recorded.push_back(e);
    }
    if (request_.stream && c.replay) {  // a cached answer streams as it first did: a chunk a token
      for (const TokenEvent& e : scratch_) {
        const std::string text = stream_text(c, e.text);
        if (!text.empty() || with_logprobs)
          out += OpenAiFormatter::sse(formatter_.delta_chunk(c.index, text, std::vector<TokenEvent>{e}, with_logprobs, c.text_bytes));
        if (with_logprobs && e.token >= 0) c.text_bytes += int64_t(model_.engine().tokenizer().piece_view(e.token, true).size());
      }
    } else if (request_.stream) {
      std::string text;
      for (const TokenEvent& e : scratch_) text += e.text;
      text = stream_text(c, text);
      if (!text.empty() || with_logprobs)
        out += OpenAiFormatter::sse(formatter_.delta_chunk(c.index, text, scratch_, with_logprobs, c.text_bytes));
    } else {
      for (TokenEvent& e : scratch_) {
        c.result.text += e.text;
        if (with_logprobs && e.token >= 0) c.result.tokens.push_back(std::move(e));
      }
    }
    if (with_logprobs && !(request_.stream && c.replay))
      for (const TokenEvent& e : scratch_)
        if (e.token >= 0) c.text_bytes += int64_t(model_.engine().tokenizer().piece_view(e.token, true).size());
  }
  if (!finished) return;
  c.done = true;
  --remaining_;
  c.finish = c.stream->finish_reason();
  c.result.finish = c.finish;
  if (c.finish == FinishReason::kError || c.finish == FinishReason::kCancelled) {
    fail(c.finish, c.stream->error(), out);
    return;
  }
  if (request_.stream) {
    bool calls = false;
    if (c.tool_stream) {
      ToolOutput rest = c.tool_stream->finish(request_.tools);
      if (!rest.content.empty())
        out += OpenAiFormatter::sse(formatter_.delta_chunk(c.index, rest.content, {}, false, c.text_bytes));
      for (const Json& chunk : formatter_.tool_call_chunks(c.index, rest.calls)) out += OpenAiFormatter::sse(chunk);
      calls = !rest.calls.empty();
    }
    out += OpenAiFormatter::sse(formatter_.finish_chunk(c.index, c.finish, calls));
  } else if (tools_) {
    ToolOutput parsed = parse_tool_output(c.result.text, tool_format_, request_.tools);
    c.result.text = std::move(parsed.content);
    c.result.tool_calls = std::move(parsed.calls);
  }
}

bool CompletionJob::poll(std::string& out) {
  if (complete_) return true;
  for (Choice& c : choices_) {
    if (failed_) break;
    if (c.stream && !c.done) poll_choice(c, out);
  }
  if (failed_) {
    if (request_.stream && !complete_) out += OpenAiFormatter::kSseDone;
    else if (!request_.stream) out += error_body_;
    complete_ = true;
    return true;
  }
  if (remaining_ > 0) return false;
  complete_ = true;
  store_in_cache();
  if (request_.stream) {
    if (request_.include_usage) out += OpenAiFormatter::sse(formatter_.usage_chunk(usage()));
    out += OpenAiFormatter::kSseDone;
  } else {
    std::vector<ChoiceResult> results;
    results.reserve(choices_.size());
    for (Choice& c : choices_) results.push_back(std::move(c.result));
    out += to_wire(formatter_.body(results, usage(), request_.logprobs >= 0));
  }
  return true;
}

}  // namespace nagare
