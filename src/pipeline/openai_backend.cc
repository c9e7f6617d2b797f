#include "pipeline/openai_backend.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "util/error.h"

namespace nagare {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

size_t append_body(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() > (64u << 20)) return 0;  // no chat answer is this large: stop a runaway server
  body->append(data, size * n);
  return size * n;
}

struct HttpReply {
  long status = 0;
  std::string body;
  std::string error;  // transport failure
};

HttpReply http_call(const std::string& url, const std::string& api_key, const std::string* post_body, double timeout_s) {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  if (!curl) {
    reply.error = "cannot start an HTTP client";
    return reply;
  }
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: application/json");
  if (!api_key.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key).c_str());
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(timeout_s * 1000));
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
  if (post_body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(post_body->size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) reply.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return reply;
}

// The error message of an OpenAI-shaped ({"error": {"message"}}) or Ollama-shaped
// ({"error": "..."}) error body, else the body's start.
std::string error_message(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const Json& e = j["error"];
    if (e.is_string()) return e.get<std::string>();
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
  }
  return body.substr(0, 300);
}

}  // namespace

OpenAiBackend::OpenAiBackend(const OpenAiBackendOptions& o) : options_(o) {
  base_ = o.url;
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (base_.size() < 3 || base_.compare(base_.size() - 3, 3, "/v1") != 0) base_ += "/v1";
  const HttpReply r = http_call(base_ + "/models", o.api_key, nullptr, 30);
  if (!r.error.empty()) throw Error("cannot reach " + base_ + "/models: " + r.error);
  if (r.status == 401 || r.status == 403)
    throw Error(base_ + " refused the API key (HTTP " + std::to_string(r.status) + "): " + error_message(r.body) +
                "; pass it with --api-key");
  if (r.status / 100 != 2)
    throw Error(base_ + "/models answered HTTP " + std::to_string(r.status) + ": " + error_message(r.body));
  const Json j = Json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("data") || !j["data"].is_array())
    throw Error(base_ + "/models did not answer an OpenAI model list");
  const Json* chosen = nullptr;
  std::string names;
  for (const Json& m : j["data"]) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string()) continue;
    const std::string id = m["id"].get<std::string>();
    names += (names.empty() ? "" : ", ") + id;
    if (!chosen && (options_.model.empty() || id == options_.model)) chosen = &m;
  }
  if (!chosen) {
    if (options_.model.empty()) throw Error(base_ + " serves no model");
    throw Error(base_ + " does not serve " + options_.model + " (it serves: " + names + ")");
  }
  options_.model = (*chosen)["id"].get<std::string>();
  if (o.ctx_size > 0) ctx_ = o.ctx_size;
  else if (chosen->contains("max_model_len") && (*chosen)["max_model_len"].is_number_integer())
    ctx_ = (*chosen)["max_model_len"].get<int32_t>();  // vLLM's and nagare's field
}

Json OpenAiBackend::request_body(const LlmCall& call) const {
  Json messages = Json::array();
  if (!call.system.empty()) messages.push_back({{"role", "system"}, {"content", call.system}});
  messages.push_back({{"role", "user"}, {"content", call.user}});
  Json body = {{"model", options_.model}, {"messages", std::move(messages)}, {"max_tokens", call.max_tokens},
               {"temperature", call.temperature}, {"seed", call.seed}};
  if (call.frequency_penalty != 0.0f) body["frequency_penalty"] = call.frequency_penalty;
  if (!call.schema.is_null())
    body["response_format"] = {{"type", "json_schema"},
                               {"json_schema", {{"name", "output"}, {"strict", true}, {"schema", call.schema}}}};
  return body;
}

LlmResult OpenAiBackend::parse_response(long status, const std::string& body) {
  LlmResult r;
  if (status / 100 != 2) {
    r.error = "HTTP " + std::to_string(status) + ": " + error_message(body);
    return r;
  }
  const Json j = Json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty() ||
      !j["choices"][0].is_object()) {
    r.error = "the server's answer is not a chat completion: " + body.substr(0, 200);
    return r;
  }
  const Json& choice = j["choices"][0];
  if (choice.contains("message") && choice["message"].is_object() && choice["message"].contains("content") &&
      choice["message"]["content"].is_string())
    r.text = choice["message"]["content"].get<std::string>();
  if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
    r.finish_reason = choice["finish_reason"].get<std::string>();
  if (j.contains("usage") && j["usage"].is_object()) {
    const Json& u = j["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
      r.prompt_tokens = u["prompt_tokens"].get<int32_t>();
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      r.completion_tokens = u["completion_tokens"].get<int32_t>();
  }
  return r;
}

int32_t OpenAiBackend::count_prompt_tokens(const LlmCall& call) const {
  const size_t bytes = call.system.size() + call.user.size();
  return int32_t(bytes * 2 / 5 + 32);  // + the template's own tokens
}

LlmResult OpenAiBackend::call_once(const LlmCall& call) const {
  const auto start = Clock::now();
  const std::string body = request_body(call).dump(-1, ' ', false, Json::error_handler_t::replace);
  const HttpReply reply = http_call(base_ + "/chat/completions", options_.api_key, &body, options_.timeout_s);
  LlmResult r;
  if (!reply.error.empty()) r.error = reply.error;
  else r = parse_response(reply.status, reply.body);
  r.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return r;
}

std::vector<LlmResult> OpenAiBackend::run(const std::vector<LlmCall>& calls, int parallel,
                                          const std::function<void(size_t, const LlmResult&)>& on_done) {
  std::vector<LlmResult> results(calls.size());
  std::atomic<size_t> next{0};
  std::mutex done_mutex;
  std::condition_variable done_cv;
  std::deque<size_t> finished;
  const size_t workers = std::min(calls.size(), size_t(std::max(1, parallel)));
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < calls.size();) {
        LlmResult r = call_once(calls[i]);
        std::lock_guard<std::mutex> lock(done_mutex);
        results[i] = std::move(r);
        finished.push_back(i);
        done_cv.notify_one();
      }
    });
  // Progress callbacks run here, on the caller's thread, as calls finish.
  for (size_t reported = 0; reported < calls.size(); ++reported) {
    std::unique_lock<std::mutex> lock(done_mutex);
    done_cv.wait(lock, [&] { return !finished.empty(); });
    const size_t i = finished.front();
    finished.pop_front();
    lock.unlock();
    if (on_done) on_done(i, results[i]);
  }
  for (auto& t : threads) t.join();
  return results;
}

}  // namespace nagare
