#include "pipeline/engine_backend.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>

#include "grammar/grammar.h"
#include "model/kv_cache.h"
#include "util/error.h"

namespace nagare {
namespace {

using Clock = std::chrono::steady_clock;

const char* finish_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kTimeout: return "timeout";
    case FinishReason::kError: return "error";
    case FinishReason::kNone: break;
  }
  return "";
}

}  // namespace

EngineBackend::EngineBackend(const EngineBackendOptions& o) : name_(o.model_name), parallel_(std::max(1, o.parallel)) {
  auto model = Model::load(o.model_path);
  auto tokenizer = Tokenizer::from_gguf(model->file());
  if (model->config().encoder)
    throw Error(o.model_path + " is an embedding model (" + model->config().arch +
                "): extraction needs a model that generates text");
  // ChatPrompt keeps references to the file and the tokenizer, which the engine owns from here
  // on at the same addresses.
  chat_ = std::make_unique<ChatPrompt>(model->file(), *tokenizer, o.template_text);
  EngineOptions eo;
  const int32_t train_ctx = model->config().n_ctx_train;
  eo.n_ctx = train_ctx > 0 ? std::min(o.ctx_size, train_ctx) : o.ctx_size;
  eo.threads = o.threads;
  eo.max_running = std::max(eo.max_running, parallel_);
  // Room for every call in flight at an extraction's typical size (a chunk, the instructions and
  // the answer: well under 2,048 tokens), and for one call of the whole context (the merge). The
  // cache's pages become resident only as they are written.
  const size_t tokens = std::max<size_t>(size_t(eo.n_ctx), size_t(parallel_) * std::min<int32_t>(eo.n_ctx, 2048));
  eo.kv_cache_bytes = KvCache::bytes_per_token(model->config()) * tokens;
  engine_ = std::make_unique<Engine>(std::move(model), std::move(tokenizer), eo);
}

EngineBackend::~EngineBackend() = default;

int32_t EngineBackend::context_tokens() const { return engine_->options().n_ctx; }

std::vector<int32_t> EngineBackend::prompt_tokens(const LlmCall& call) const {
  std::vector<ChatMessage> messages;
  if (!call.system.empty()) messages.push_back({"system", call.system});
  messages.push_back({"user", call.user});
  return chat_->tokenize(messages);
}

int32_t EngineBackend::count_prompt_tokens(const LlmCall& call) const { return int32_t(prompt_tokens(call).size()); }

std::shared_ptr<const Grammar> EngineBackend::grammar_for(const nlohmann::ordered_json& schema) {
  if (schema.is_null()) return nullptr;
  std::lock_guard<std::mutex> lock(grammars_mutex_);
  auto& g = grammars_[schema.dump()];
  if (!g) g = Grammar::from_json_schema(schema);  // the same schema for every chunk: compiled once
  return g;
}

std::vector<LlmResult> EngineBackend::run(const std::vector<LlmCall>& calls, int parallel,
                                          const std::function<void(size_t, const LlmResult&)>& on_done) {
  std::vector<LlmResult> results(calls.size());
  struct InFlight {
    size_t index;
    std::shared_ptr<RequestStream> stream;
    Clock::time_point start;
  };
  std::vector<InFlight> in_flight;
  std::mutex wake_mutex;
  std::condition_variable wake;
  bool woken = false;
  auto notify = [&] {
    std::lock_guard<std::mutex> lock(wake_mutex);
    woken = true;
    wake.notify_one();
  };
  auto finish = [&](size_t i) {
    if (on_done) on_done(i, results[i]);
  };

  size_t next = 0;
  const size_t limit = size_t(std::max(1, parallel));
  std::vector<TokenEvent> events;
  while (next < calls.size() || !in_flight.empty()) {
    while (next < calls.size() && in_flight.size() < limit) {
      const size_t i = next++;
      const LlmCall& call = calls[i];
      try {
        GenerateRequest req;
        req.prompt = prompt_tokens(call);
        req.max_tokens = call.max_tokens;
        req.max_tokens_must_fit = false;
        req.sampling.temperature = call.temperature;
        req.sampling.seed = call.seed;
        req.sampling.frequency_penalty = call.frequency_penalty;
        req.grammar = grammar_for(call.schema);
        auto stream = engine_->submit(std::move(req));
        stream->set_notify(notify);
        in_flight.push_back({i, std::move(stream), Clock::now()});
      } catch (const std::exception& e) {  // a prompt over the context, a schema the compiler refuses
        results[i].error = e.what();
        finish(i);
      }
    }
    {
      std::unique_lock<std::mutex> lock(wake_mutex);
      wake.wait_for(lock, std::chrono::milliseconds(50), [&] { return woken; });
      woken = false;
    }
    for (size_t k = 0; k < in_flight.size();) {
      InFlight& f = in_flight[k];
      events.clear();
      const bool done = f.stream->drain(events);
      LlmResult& r = results[f.index];
      for (const auto& e : events) r.text += e.text;
      if (!done) {
        ++k;
        continue;
      }
      const RequestStats s = f.stream->stats();
      r.prompt_tokens = s.prompt_tokens;
      r.completion_tokens = s.completion_tokens;
      r.finish_reason = finish_name(f.stream->finish_reason());
      r.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - f.start).count();
      if (f.stream->finish_reason() == FinishReason::kError || f.stream->finish_reason() == FinishReason::kCancelled)
        r.error = f.stream->error().empty() ? "the engine ended the request (" + r.finish_reason + ")" : f.stream->error();
      const size_t index = f.index;
      in_flight.erase(in_flight.begin() + std::ptrdiff_t(k));
      finish(index);
    }
  }
  return results;
}

}  // namespace nagare
