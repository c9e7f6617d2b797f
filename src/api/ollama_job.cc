#include "api/ollama_job.h"

#include <algorithm>
#include <ctime>

#include "api/api_error.h"

namespace nagare {
namespace {

const char* done_reason(FinishReason r) {
  return r == FinishReason::kTimeout ? "timeout" : r == FinishReason::kLength ? "length" : "stop";
}

int64_t ms_to_ns(double ms) { return int64_t(ms * 1e6); }

}  // namespace

std::string rfc3339_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09ldZ", long(ts.tv_nsec));
  return buf;
}

OllamaJob::OllamaJob(const ServedModel& model, OllamaRequest request, int64_t load_ns, ResponseCache* cache)
    : model_(model), request_(std::move(request)), name_(request_.model), start_(std::chrono::steady_clock::now()),
      load_ns_(load_ns), cache_(cache) {
  if (request_.load_only()) {
    complete_ = false;  // answered by poll() with done_reason "load"
    return;
  }
  const ChatPrompt& chat = model_.chat();
  const Tokenizer& tok = model_.engine().tokenizer();
  try {
    if (request_.endpoint == OllamaEndpoint::kChat) {
      const bool takes_tools = template_takes_tools(chat.chat_template().source());
      ChatRenderOptions options;
      if (request_.tools.active() && takes_tools) options.extra["tools"] = request_.tools.tools;
      prompt_ = chat.tokenize_json(
          messages_for_template(model_.preset().apply(request_.messages), request_.tools, takes_tools), options);
      if (request_.tools.active()) {
        tool_format_ = tool_call_format(chat.chat_template().source());
        if (request_.stream) tool_stream_.emplace(tool_format_);
      }
    } else {
      std::vector<int32_t> fresh;
      if (request_.raw) {
        fresh = tok.encode(request_.prompt, /*add_special=*/request_.context.empty(), /*parse_special=*/true);
      } else {
        std::vector<ChatMessage> messages;
        if (!request_.system.empty()) messages.push_back({"system", request_.system});
        // As Ollama: the model's MESSAGEs only start a conversation, not a continued one.
        ConversationPreset preset = model_.preset();
        if (!request_.context.empty()) preset.messages.clear();
        preset.apply(messages);
        messages.push_back({"user", request_.prompt});
        fresh = chat.tokenize(messages);
        // A continued conversation already starts with BOS.
        if (!request_.context.empty() && !fresh.empty() && fresh.front() == tok.bos_id()) fresh.erase(fresh.begin());
      }
      prompt_ = request_.context;
      prompt_.insert(prompt_.end(), fresh.begin(), fresh.end());
    }
  } catch (const ApiError&) {
    throw;
  } catch (const Error& e) {
    throw ApiError::invalid(std::string("the chat template rejected the messages: ") + e.what(),
                            request_.endpoint == OllamaEndpoint::kChat ? "messages" : "prompt");
  }
  GenerateRequest g = request_.generate;
  g.prompt = prompt_;
  // nagare's extension: OpenAI's tool_choice "required" or a named function constrains the call.
  if (auto grammar = request_.tools.active() ? tool_call_grammar(request_.tools, tool_format_) : nullptr) {
    if (g.grammar) throw ApiError::invalid("a required tool call cannot be combined with 'format'", "tool_choice");
    g.grammar = std::move(grammar);
  }
  // num_ctx below the server's context limits this request to it; above, the server's context
  // (fixed when the model was loaded) is the limit, as the engine reports.
  const int32_t n_ctx = model_.engine().options().n_ctx;
  if (request_.num_ctx > 0 && request_.num_ctx < n_ctx) {
    const int32_t room = request_.num_ctx - int32_t(prompt_.size());
    if (room < 1)
      throw ApiError::invalid("the prompt is " + std::to_string(prompt_.size()) + " tokens long, more than num_ctx " +
                                  std::to_string(request_.num_ctx) + " allows",
                              "options.num_ctx");
    g.max_tokens = g.max_tokens < 0 ? room : std::min(g.max_tokens, room);
  }
  if (cache_ && ResponseCache::deterministic(g, g.sampling.seed != kRandomSeed)) {
    cache_key_ = ResponseCache::key(model_.identity(),
                                    request_.endpoint == OllamaEndpoint::kChat ? "ollama-chat" : "ollama-generate", {g});
    if (auto hit = cache_->get(cache_key_, 1)) {
      cache_status_ = "hit";
      cache_key_.clear();
      stream_ = std::move((*hit)[0]).replay();
      replay_ = true;
      return;
    }
    cache_status_ = "miss";
  }
  try {
    stream_ = model_.engine().submit(std::move(g));
  } catch (const RequestError& e) {
    if (e.kind() == RequestError::Kind::kOverloaded) throw ApiError::from_engine(e, "prompt");
    throw ApiError::invalid(e.what(), e.field() != "prompt" ? e.field()
                                      : request_.endpoint == OllamaEndpoint::kChat ? "messages" : "prompt");
  }
}

OllamaJob::~OllamaJob() { cancel(); }

void OllamaJob::set_notify(const std::function<void()>& notify) {
  if (stream_) stream_->set_notify(notify);
}

void OllamaJob::cancel() {
  if (stream_ && !complete_) stream_->cancel();
}

Json OllamaJob::chunk(const std::string& text, const std::vector<ToolCall>& calls) const {
  Json j;
  j["model"] = name_;
  j["created_at"] = rfc3339_now();
  if (request_.endpoint == OllamaEndpoint::kChat) {
    j["message"] = {{"role", "assistant"}, {"content", text}};
    if (!calls.empty()) {
      // Ollama's shape: arguments as an object.
      Json list = Json::array();
      for (const ToolCall& c : calls) {
        Json args;
        try {
          args = Json::parse(c.arguments);
        } catch (const Json::exception&) {
          args = c.arguments;
        }
        list.push_back({{"function", {{"name", c.name}, {"arguments", std::move(args)}}}});
      }
      j["message"]["tool_calls"] = std::move(list);
    }
  } else {
    j["response"] = text;
  }
  j["done"] = false;
  return j;
}

Json OllamaJob::final_object(const std::string& text, const std::vector<ToolCall>& calls) {
  Json j = chunk(text, calls);
  j["done"] = true;
  if (!stream_) {  // a load-only request
    j["done_reason"] = "load";
    return j;
  }
  const RequestStats s = stream_->stats();
  j["done_reason"] = done_reason(stream_->finish_reason());
  if (request_.endpoint == OllamaEndpoint::kGenerate) {
    std::vector<int32_t> context = prompt_;
    context.insert(context.end(), generated_.begin(), generated_.end());
    j["context"] = context;
  }
  const auto total = std::chrono::steady_clock::now() - start_;
  j["total_duration"] = std::chrono::duration_cast<std::chrono::nanoseconds>(total).count() + load_ns_;
  j["load_duration"] = load_ns_;
  j["prompt_eval_count"] = s.prompt_tokens;
  j["prompt_eval_duration"] = ms_to_ns(s.prefill_ms);
  j["eval_count"] = s.completion_tokens;
  j["eval_duration"] = ms_to_ns(s.decode_ms);
  return j;
}

void OllamaJob::report(RequestRecord& r) const {
  r.api = "ollama";
  r.model = model_.name();
  r.cache = cache_status_;
  r.stream = request_.stream;
  if (!stream_) return;  // load only: no generation
  r.generation = true;
  const RequestStats s = stream_->stats();
  r.prompt_tokens = int64_t(prompt_.size());
  r.cached_tokens = s.cached_prompt_tokens;
  r.completion_tokens = int64_t(generated_.size());
  r.finish_reason = complete_ ? finish_reason_name(stream_->finish_reason()) : "cancelled";
  record_timings(r, s);
  r.response_text = text_;
}

bool OllamaJob::poll(std::string& out) {
  if (complete_) return true;
  if (!stream_) {  // nothing to generate: Ollama answers at once that the model is loaded
    out += to_wire(final_object("")) + (request_.stream ? "\n" : "");
    complete_ = true;
    return true;
  }
  scratch_.clear();
  const bool finished = stream_->drain(scratch_);
  std::string text;
  for (const TokenEvent& e : scratch_) {
    text += e.text;
    if (e.token >= 0) generated_.push_back(e.token);
    if (!cache_key_.empty()) recorded_.push_back(e);
    if (replay_ && request_.stream && !e.text.empty()) {  // a chunk a token
      const std::string piece = tool_stream_ ? tool_stream_->push(e.text) : e.text;
      if (!piece.empty()) out += to_wire(chunk(piece)) + "\n";
    }
  }
  text_ += text;
  if (!replay_ && request_.stream && !text.empty()) {
    const std::string piece = tool_stream_ ? tool_stream_->push(text) : text;
    if (!piece.empty()) out += to_wire(chunk(piece)) + "\n";
  }
  if (!finished) return false;
  complete_ = true;
  const FinishReason reason = stream_->finish_reason();
  if (reason == FinishReason::kError || reason == FinishReason::kCancelled) {
    const bool shutdown = reason == FinishReason::kCancelled;
    status_ = shutdown ? 503 : 500;
    const std::string message = shutdown ? "the request was cancelled (the server is shutting down)"
                                          : "generation failed: " + stream_->error();
    out += to_wire(Json{{"error", message}}) + (request_.stream ? "\n" : "");
    return true;
  }
  if (!cache_key_.empty() && (reason == FinishReason::kStop || reason == FinishReason::kLength))
    cache_->put(cache_key_, {CachedChoice{std::move(recorded_), reason, stream_->stats()}});
  if (tool_stream_) {  // the rest of the text, and the calls, before the final object
    ToolOutput rest = tool_stream_->finish(request_.tools);
    if (!rest.content.empty() || !rest.calls.empty()) out += to_wire(chunk(rest.content, rest.calls)) + "\n";
  } else if (request_.tools.active() && !request_.stream) {
    ToolOutput parsed = parse_tool_output(text_, tool_format_, request_.tools);
    out += to_wire(final_object(parsed.content, parsed.calls));
    return true;
  }
  out += to_wire(final_object(request_.stream ? "" : text_)) + (request_.stream ? "\n" : "");
  return true;
}

}  // namespace nagare
