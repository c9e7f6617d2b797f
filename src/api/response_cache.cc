#include "api/response_cache.h"

#include <cstring>

#include <nlohmann/json.hpp>

#include "util/sha256.h"

namespace nagare {

std::optional<std::string> LruCacheBackend::get(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (Clock::now() >= it->second->expires) {
    bytes_ -= it->second->key.size() + it->second->value.size();
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void LruCacheBackend::put(const std::string& key, const std::string& value, std::chrono::seconds ttl) {
  if (key.size() + value.size() > max_bytes_) return;  // would evict everything for one entry
  std::lock_guard lk(mu_);
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->key.size() + it->second->value.size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front({key, value, Clock::now() + ttl});
  index_[key] = lru_.begin();
  bytes_ += key.size() + value.size();
  evict_locked();
}

void LruCacheBackend::evict_locked() {
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    const Entry& last = lru_.back();
    bytes_ -= last.key.size() + last.value.size();
    index_.erase(last.key);
    lru_.pop_back();
  }
}

size_t LruCacheBackend::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}

namespace {

// Floats by their bits: the key must tell 0.1f from 0.10000001f.
uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

const char* finish_name(FinishReason f) { return f == FinishReason::kLength ? "length" : "stop"; }

}  // namespace

std::shared_ptr<RequestStream> CachedChoice::replay() && {
  auto stream = std::make_shared<RequestStream>();
  for (TokenEvent& e : events) stream->push(std::move(e));
  stream->finish(finish, stats);
  return stream;
}

std::string ResponseCache::key(const std::string& model_id, const std::string& endpoint,
                               const std::vector<GenerateRequest>& choices) {
  nlohmann::json j;
  j["v"] = 1;  // the stored format's version: a change makes old entries unreachable
  j["model"] = model_id;
  j["endpoint"] = endpoint;
  nlohmann::json list = nlohmann::json::array();
  for (const GenerateRequest& g : choices) {
    const SamplingParams& s = g.sampling;
    list.push_back({{"prompt", g.prompt},
                    {"sampling",
                     {bits(s.temperature), s.top_k, bits(s.top_p), bits(s.min_p), bits(s.repetition_penalty),
                      s.repeat_last_n, bits(s.frequency_penalty), bits(s.presence_penalty), s.seed}},
                    {"max_tokens", g.max_tokens},
                    {"min_tokens", g.min_tokens},
                    {"ignore_eos", g.ignore_eos},
                    {"stop", g.stop},
                    {"top_logprobs", g.top_logprobs},
                    {"must_fit", g.max_tokens_must_fit},
                    // The same prompt under another schema or grammar is another answer.
                    {"grammar", g.grammar ? g.grammar->to_gbnf() : std::string()}});
  }
  j["choices"] = std::move(list);
  return "nagare:cache:v1:" + sha256_hex(j.dump());
}

std::string ResponseCache::encode(const std::vector<CachedChoice>& choices) {
  nlohmann::json out = nlohmann::json::array();
  for (const CachedChoice& c : choices) {
    nlohmann::json events = nlohmann::json::array();
    for (const TokenEvent& e : c.events) {
      nlohmann::json top = nlohmann::json::array();
      for (const TokenLogprob& t : e.top) top.push_back({t.token, t.logprob});
      events.push_back({e.token, e.text, e.logprob, std::move(top)});
    }
    out.push_back({{"events", std::move(events)},
                   {"finish", finish_name(c.finish)},
                   {"stats",
                    {c.stats.prompt_tokens, c.stats.cached_prompt_tokens, c.stats.completion_tokens, c.stats.queued_ms,
                     c.stats.prefill_ms, c.stats.decode_ms}}});
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::vector<CachedChoice>> ResponseCache::decode(const std::string& text, size_t n_choices) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array() || j.size() != n_choices) return std::nullopt;
  std::vector<CachedChoice> out;
  try {
    for (const auto& c : j) {
      CachedChoice choice;
      for (const auto& e : c.at("events")) {
        TokenEvent ev;
        ev.token = e.at(0).get<int32_t>();
        ev.text = e.at(1).get<std::string>();
        ev.logprob = e.at(2).get<float>();
        for (const auto& t : e.at(3)) ev.top.push_back({t.at(0).get<int32_t>(), t.at(1).get<float>()});
        choice.events.push_back(std::move(ev));
      }
      const std::string finish = c.at("finish").get<std::string>();
      if (finish != "stop" && finish != "length") return std::nullopt;
      choice.finish = finish == "length" ? FinishReason::kLength : FinishReason::kStop;
      const auto& s = c.at("stats");
      choice.stats.prompt_tokens = s.at(0).get<int32_t>();
      choice.stats.cached_prompt_tokens = s.at(1).get<int32_t>();
      choice.stats.completion_tokens = s.at(2).get<int32_t>();
      choice.stats.queued_ms = s.at(3).get<double>();
      choice.stats.prefill_ms = s.at(4).get<double>();
      choice.stats.decode_ms = s.at(5).get<double>();
      out.push_back(std::move(choice));
    }
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<CachedChoice>> ResponseCache::get(const std::string& key, size_t n_choices) {
  auto v = backend_->get(key);
  if (!v) return std::nullopt;
  return decode(*v, n_choices);
}

void ResponseCache::put(const std::string& key, const std::vector<CachedChoice>& choices) {
  backend_->put(key, encode(choices), ttl_);
}

}  // namespace nagare
