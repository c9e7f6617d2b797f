#include "api/embeddings_job.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "api/api_error.h"

namespace nagare {
namespace {

// The shortest text that reads back as the same float (1e-45 .. 3.4e38); null for what JSON
// cannot hold.
void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_vector(std::string& out, const std::vector<float>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    append_float(out, v[i]);
  }
  out += ']';
}

std::string quoted(const std::string& s) { return to_wire(Json(s)); }

bool ollama(EmbeddingsApi api) { return api != EmbeddingsApi::kOpenAi; }

}  // namespace

std::string base64_floats(const float* v, size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(n * 4, '\0');
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; ++b) bytes[i * 4 + size_t(b)] = char((u >> (8 * b)) & 0xff);  // little-endian
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t left = bytes.size() - i;
    const uint32_t chunk = uint32_t(uint8_t(bytes[i])) << 16 | (left > 1 ? uint32_t(uint8_t(bytes[i + 1])) << 8 : 0) |
                           (left > 2 ? uint32_t(uint8_t(bytes[i + 2])) : 0);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += left > 1 ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += left > 2 ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

EmbeddingsJob::EmbeddingsJob(const ServedModel& model, EmbeddingsRequest request, int64_t load_ns)
    : model_(model), request_(std::move(request)), start_(std::chrono::steady_clock::now()), load_ns_(load_ns),
      n_embd_(model.engine().model().config().n_embd) {
  if (request_.api == EmbeddingsApi::kOpenAi) model_.check_model(request_.model);
  if (request_.dimensions && *request_.dimensions != n_embd_)
    throw ApiError::invalid("this model's embeddings have " + std::to_string(n_embd_) +
                                " dimensions and cannot be shortened: leave 'dimensions' out or set it to " +
                                std::to_string(n_embd_),
                            "dimensions");
  // As llama-server: pooling none gives a vector per token, which no API's shape here carries.
  if (model_.engine().options().pooling == Pooling::kNone)
    throw ApiError::invalid("Pooling type 'none' is not OAI compatible. Please use a different pooling type "
                            "(nagare serve --pooling mean|cls|last)",
                            "input");
  const Tokenizer& tok = model_.engine().tokenizer();
  const int32_t n_ctx = model_.engine().options().n_ctx;
  for (const EmbeddingInput& in : request_.inputs) {
    std::vector<int32_t> ids = in.is_tokens ? in.tokens : tok.encode(in.text, /*add_special=*/true, /*parse_special=*/true);
    // Ollama cuts what the context cannot hold unless told not to (then the engine refuses it).
    if (ollama(request_.api) && request_.truncate && int32_t(ids.size()) > n_ctx) ids.resize(size_t(n_ctx));
    prompts_.push_back(std::move(ids));
  }
}

EmbeddingsJob::~EmbeddingsJob() { cancel(); }

ApiError EmbeddingsJob::refusal(const RequestError& e, size_t i) const {
  const std::string which = prompts_.size() > 1 ? "input " + std::to_string(i) : "the input";
  if (e.kind() == RequestError::Kind::kContextLength) {
    const std::string n = std::to_string(e.n_ctx()), got = std::to_string(e.prompt_tokens());
    if (ollama(request_.api))
      return ApiError::invalid("the input length exceeds the context length (" + which + " is " + got + " tokens, the context " + n + ")",
                               "input");
    return ApiError::context_length("This model's maximum context length is " + n + " tokens. However, " + which + " has " + got +
                                        " tokens. Please reduce the length of the input.",
                                    "input");
  }
  if (e.kind() == RequestError::Kind::kOverloaded) return ApiError::from_engine(e, "input");
  return ApiError::invalid(which + ": " + e.what(), e.field() == "prompt" || e.field().empty() ? "input" : e.field());
}

void EmbeddingsJob::submit_next() {
  const size_t i = streams_.size();
  GenerateRequest g;
  g.prompt = prompts_[i];
  g.embedding = EmbeddingParams{std::nullopt, request_.api == EmbeddingsApi::kOllamaLegacy ? -1 : 2};  // legacy route: raw
  try {
    streams_.push_back(model_.engine().submit(std::move(g)));
  } catch (const RequestError& e) {
    throw refusal(e, i);
  }
  if (notify_) streams_.back()->set_notify(notify_);
}

bool EmbeddingsJob::top_up() {
  // As many at once as the engine runs at once: they batch as if all were queued, without
  // filling the waiting queue (--max-queue) with one request's inputs.
  const size_t window = size_t(std::max(1, model_.engine().options().max_running));
  const size_t finished = prompts_.size() - remaining_;
  bool submitted = false;
  while (streams_.size() < prompts_.size() && streams_.size() - finished < window) {
    try {
      submit_next();
      submitted = true;
    } catch (const ApiError& e) {
      // A full queue while some of ours still run: try again when one of them finishes.
      if (e.status() == 503 && streams_.size() > finished) break;
      throw;
    }
  }
  return submitted;
}

void EmbeddingsJob::submit() {
  vectors_.resize(prompts_.size());
  remaining_ = prompts_.size();
  try {
    top_up();
  } catch (const ApiError&) {
    cancel();
    streams_.clear();
    throw;
  }
}

void EmbeddingsJob::set_notify(const std::function<void()>& notify) {
  notify_ = notify;
  for (auto& s : streams_) s->set_notify(notify);
}

void EmbeddingsJob::cancel() {
  for (auto& s : streams_) s->cancel();
}

int64_t EmbeddingsJob::prompt_tokens() const {
  int64_t n = 0;
  for (const auto& p : prompts_) n += int64_t(p.size());
  return n;
}

void EmbeddingsJob::fail(const ApiError& e, std::string& out) {
  failed_ = true;
  cancel();
  status_ = e.status();
  out += ollama(request_.api) ? to_wire(Json{{"error", e.what()}}) : to_wire(error_json(e));
  complete_ = true;
}

bool EmbeddingsJob::poll(std::string& out) {
  if (complete_) return true;
  std::vector<TokenEvent> none;
  // Until nothing changes: an input submitted here may finish before its notify was set.
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = 0; i < streams_.size(); ++i) {
      RequestStream& s = *streams_[i];
      if (!vectors_[i].empty() || !s.drain(none)) continue;
      const FinishReason reason = s.finish_reason();
      if (reason != FinishReason::kStop) {
        // The engine failed, timed out or is shutting down: the whole request fails.
        if (reason == FinishReason::kError) fail(ApiError(500, "embedding failed: " + s.error(), "server_error"), out);
        else if (reason == FinishReason::kTimeout) fail(ApiError(503, "the request timed out", "server_error", "", "timeout"), out);
        else fail(ApiError(503, "the request was cancelled (the server is shutting down)", "server_error"), out);
        return true;
      }
      vectors_[i] = s.embedding();
      if (vectors_[i].empty()) {
        fail(ApiError(500, "embedding failed: the engine returned no vector", "server_error"), out);
        return true;
      }
      --remaining_;
      progress = true;
    }
    try {
      if (top_up()) progress = true;
    } catch (const ApiError& e) {
      fail(e, out);
      return true;
    }
  }
  if (remaining_ > 0) return false;
  out += body();
  complete_ = true;
  return true;
}

std::string EmbeddingsJob::body() const {
  std::string out;
  out.reserve(vectors_.size() * size_t(n_embd_) * 12 + 256);
  const int64_t tokens = prompt_tokens();
  switch (request_.api) {
    case EmbeddingsApi::kOpenAi: {
      out += R"({"object":"list","data":[)";
      for (size_t i = 0; i < vectors_.size(); ++i) {
        if (i) out += ',';
        out += R"({"object":"embedding","index":)" + std::to_string(i) + R"(,"embedding":)";
        if (request_.base64) out += '"' + base64_floats(vectors_[i].data(), vectors_[i].size()) + '"';
        else append_vector(out, vectors_[i]);
        out += '}';
      }
      out += R"(],"model":)" + quoted(model_.name());
      out += R"(,"usage":{"prompt_tokens":)" + std::to_string(tokens) + R"(,"total_tokens":)" + std::to_string(tokens) + "}}";
      break;
    }
    case EmbeddingsApi::kOllamaEmbed: {
      out += R"({"model":)" + quoted(request_.model) + R"(,"embeddings":[)";
      for (size_t i = 0; i < vectors_.size(); ++i) {
        if (i) out += ',';
        append_vector(out, vectors_[i]);
      }
      out += ']';
      if (!vectors_.empty()) {  // Ollama leaves these out of a load-only answer
        const auto total = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
        out += R"(,"total_duration":)" + std::to_string(total + load_ns_) + R"(,"load_duration":)" + std::to_string(load_ns_) +
               R"(,"prompt_eval_count":)" + std::to_string(tokens);
      }
      out += '}';
      break;
    }
    case EmbeddingsApi::kOllamaLegacy:
      out += R"({"embedding":)";
      append_vector(out, vectors_.empty() ? std::vector<float>{} : vectors_.front());
      out += '}';
      break;
  }
  return out;
}

void EmbeddingsJob::report(RequestRecord& r) const {
  r.api = ollama(request_.api) ? "ollama" : "openai";
  r.model = model_.name();
  r.stream = false;
  if (streams_.empty()) return;  // load only
  r.generation = true;
  r.prompt_tokens = prompt_tokens();
  r.completion_tokens = 0;
  int64_t cached = 0;
  for (const auto& s : streams_) cached += s->stats().cached_prompt_tokens;
  r.cached_tokens = cached;
  r.finish_reason = !complete_ ? "cancelled" : failed_ ? (status_ == 500 ? "error" : "cancelled") : "stop";
  record_timings(r, streams_.front()->stats());
  r.response_text = std::to_string(vectors_.size()) + " embeddings of " + std::to_string(n_embd_) + " dimensions";
}

}  // namespace nagare
