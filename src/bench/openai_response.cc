#include "bench/openai_response.h"

#include <cstdio>

namespace nagare::bench {
namespace {

using json = nlohmann::json;

constexpr size_t kHeadBytes = 4096;
// A non-streamed body above this is not an OpenAI response we can use; stop buffering it.
constexpr size_t kMaxBodyBytes = size_t(64) << 20;

const json* find_path(const json& j, const char* a, const char* b = nullptr) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(a);
  if (it == j.end()) return nullptr;
  if (!b) return &*it;
  if (!it->is_object()) return nullptr;
  auto jt = it->find(b);
  return jt == it->end() ? nullptr : &*jt;
}

// The error message of an OpenAI ({"error": {"message"}}), FastAPI ({"detail"}) or plain
// ({"error": "..."}) error body.
std::string error_message(const json& j) {
  if (const json* m = find_path(j, "error", "message"); m && m->is_string()) return m->get<std::string>();
  if (const json* e = find_path(j, "error"); e && e->is_string()) return e->get<std::string>();
  if (const json* d = find_path(j, "detail")) return d->is_string() ? d->get<std::string>() : d->dump();
  if (const json* m = find_path(j, "message"); m && m->is_string()) return m->get<std::string>();
  return "";
}

}  // namespace

std::string excerpt(std::string_view s, size_t max_chars) {
  std::string out;
  size_t n = 0;
  for (unsigned char c : s) {
    bool continuation = (c & 0xC0) == 0x80;
    if (!continuation && n++ >= max_chars) {  // cut only at a character boundary
      out += "...";
      break;
    }
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

OpenAiResponse::OpenAiResponse(Endpoint endpoint, bool stream)
    : endpoint_(endpoint), stream_(stream), sse_([this](const SseEvent& e) { on_event(e); }) {}

void OpenAiResponse::on_data(std::string_view bytes, double now_s) {
  now_s_ = now_s;
  body_bytes_ += bytes.size();
  if (head_.size() < kHeadBytes) head_.append(bytes.substr(0, kHeadBytes - head_.size()));
  if (stream_) {
    sse_.feed(bytes);
    // Until the first event, keep the body: a server that ignores "stream" answers with one JSON.
    if (sse_.events_seen() == 0 && body_.size() + bytes.size() <= kMaxBodyBytes) body_.append(bytes);
    else if (!body_.empty()) body_ = std::string();
  } else if (body_.size() + bytes.size() <= kMaxBodyBytes) {
    body_.append(bytes);
  } else {
    protocol_error("response body larger than 64 MiB");
  }
}

void OpenAiResponse::protocol_error(std::string what) {
  if (error_.empty()) error_ = std::move(what);
}

void OpenAiResponse::content(size_t n_chars) {
  if (n_chars == 0) return;
  ++rec_.content_chunks;
  if (first_s_ < 0) {
    first_s_ = now_s_;
  } else {
    rec_.itl_s.push_back(now_s_ - last_s_);
  }
  last_s_ = now_s_;
}

void OpenAiResponse::on_event(const SseEvent& e) {
  if (done_) return;
  if (e.data == "[DONE]") {
    done_ = true;
    return;
  }
  json j;
  try {
    j = json::parse(e.data);
  } catch (const json::parse_error&) {
    protocol_error("stream chunk is not JSON: " + excerpt(e.data, 80));
    return;
  }
  on_json(j, true);
}

void OpenAiResponse::on_json(const json& j, bool chunk) {
  if (!j.is_object()) {
    protocol_error(std::string("not OpenAI-shaped: expected an object, got ") + j.type_name());
    return;
  }
  if (const json* err = find_path(j, "error"); err && !err->is_null()) {
    std::string m = error_message(j);
    protocol_error("server error: " + excerpt(m.empty() ? err->dump() : m, 100));
    return;
  }
  const json* choices = find_path(j, "choices");
  const json* usage = find_path(j, "usage");
  bool has_usage = usage && usage->is_object();
  if ((!choices || !choices->is_array()) && !has_usage) {
    protocol_error("not OpenAI-shaped: no \"choices\" in " + excerpt(j.dump(), 80));
    return;
  }
  if (choices && choices->is_array()) {
    saw_choices_ = true;
    for (const json& c : *choices) {
      if (!c.is_object()) {
        protocol_error("not OpenAI-shaped: a choice is not an object");
        return;
      }
      size_t n = 0;
      if (endpoint_ == Endpoint::kChat) {
        const json* msg = find_path(c, chunk ? "delta" : "message");
        if (!msg || !msg->is_object()) {
          protocol_error(std::string("not OpenAI-shaped: a choice without \"") + (chunk ? "delta" : "message") + "\"");
          return;
        }
        // Reasoning models stream their thinking first; those are output tokens too.
        for (const char* key : {"content", "reasoning_content", "reasoning"})
          if (const json* t = find_path(*msg, key); t && t->is_string()) n += t->get_ref<const std::string&>().size();
      } else {
        const json* t = find_path(c, "text");
        if (!t || !t->is_string()) {
          protocol_error("not OpenAI-shaped: a completion choice without \"text\"");
          return;
        }
        n = t->get_ref<const std::string&>().size();
      }
      if (chunk) content(n);
      else rec_.content_chunks += n > 0;
      if (const json* f = find_path(c, "finish_reason"); f && f->is_string()) rec_.finish_reason = f->get<std::string>();
    }
  }
  if (has_usage) {
    const json* p = find_path(*usage, "prompt_tokens");
    const json* o = find_path(*usage, "completion_tokens");
    if (p && p->is_number_integer() && o && o->is_number_integer()) {
      rec_.prompt_tokens = p->get<int64_t>();
      rec_.completion_tokens = o->get<int64_t>();
      rec_.usage_reported = true;
    } else {
      protocol_error("not OpenAI-shaped: \"usage\" without integer prompt_tokens/completion_tokens");
    }
  }
}

std::string OpenAiResponse::failure(long http_status, const std::string& transport_error) {
  if (http_status != 0 && (http_status < 200 || http_status > 299)) {
    std::string msg;
    try {
      msg = error_message(json::parse(body_.empty() ? head_ : body_));
    } catch (const json::parse_error&) {
    }
    if (msg.empty()) msg = head_;
    std::string why = "HTTP " + std::to_string(http_status);
    if (!msg.empty()) why += ": " + excerpt(msg, 100);
    return why;
  }
  if (!transport_error.empty()) return transport_error;
  if (http_status == 0) return "no HTTP response";
  if (body_bytes_ == 0) return "empty response body";
  if (stream_) {
    sse_.finish();
    if (!error_.empty()) return error_;
    if (sse_.events_seen() == 0) {
      json j = json::parse(body_, nullptr, false);
      // A plain JSON error with status 200 is still the server's error, not garbage.
      if (std::string msg = error_message(j); !msg.empty()) return "server error: " + excerpt(msg, 100);
      // A server that does not stream may answer with a whole completion: usable, but untimed.
      if (j.is_object() && j.contains("choices")) {
        on_json(j, false);
        return error_;
      }
      return "not an event stream: " + excerpt(head_, 80);
    }
    if (!saw_choices_) return "not OpenAI-shaped: stream had no \"choices\"";
    // Servers end a finished stream with [DONE]; a stream without it and without a
    // finish_reason was cut short (the server died or closed the connection).
    if (!done_ && rec_.finish_reason.empty()) return "stream ended before [DONE]";
    return "";
  }
  json j;
  try {
    j = json::parse(body_);
  } catch (const json::parse_error&) {
    return "response is not JSON: " + excerpt(head_, 80);
  }
  on_json(j, false);
  return error_;
}

RequestRecord OpenAiResponse::finish(long http_status, const std::string& transport_error, double start_s,
                                     double end_s) {
  std::string why = failure(http_status, transport_error);
  RequestRecord r = std::move(rec_);
  rec_ = RequestRecord();
  r.http_status = http_status;
  r.start_s = start_s;
  r.end_s = end_s;
  if (first_s_ >= 0) r.ttft_s = first_s_ - start_s;
  if (!why.empty()) {
    r.ok = false;
    r.error = std::move(why);
    return r;
  }
  if (!r.usage_reported) {
    // No usage: one token per content chunk is the best guess (exact for token-by-token streams).
    r.completion_tokens = r.content_chunks;
    r.prompt_tokens = 0;
  }
  r.ok = true;
  return r;
}

}  // namespace nagare::bench
