#include "balancer/routing_key.h"

#include <nlohmann/json.hpp>

namespace nagare {
namespace {

using Json = nlohmann::json;

// A message's text: a string, or the text parts of an OpenAI content array.
void append_content(std::string& out, const Json& content) {
  if (content.is_string()) {
    out += content.get_ref<const std::string&>();
  } else if (content.is_array()) {
    for (const Json& part : content)
      if (part.is_object() && part.contains("text") && part["text"].is_string()) out += part["text"].get_ref<const std::string&>();
  } else if (!content.is_null()) {
    out += content.dump();
  }
}

}  // namespace

std::string routing_key(std::string_view body) {
  const Json j = Json::parse(body, nullptr, false);
  if (!j.is_object()) return "";
  std::string key;
  if (auto m = j.find("model"); m != j.end() && m->is_string()) key += m->get_ref<const std::string&>();
  key += '\x1d';  // separators no text contains, so "ab"+"c" and "a"+"bc" differ
  if (auto msgs = j.find("messages"); msgs != j.end() && msgs->is_array()) {
    for (const Json& msg : *msgs) {
      if (!msg.is_object()) continue;
      if (auto r = msg.find("role"); r != msg.end() && r->is_string()) key += r->get_ref<const std::string&>();
      key += '\x1f';
      if (auto c = msg.find("content"); c != msg.end()) append_content(key, *c);
      key += '\x1e';
      if (key.size() >= kMaxRoutingKey) break;
    }
  } else {
    // Ollama's /api/generate puts its system prompt beside the prompt; it comes first.
    for (const char* field : {"system", "prompt", "input"})
      if (auto f = j.find(field); f != j.end()) {
        append_content(key, *f);
        key += '\x1e';
      }
  }
  if (key.size() > kMaxRoutingKey) key.resize(kMaxRoutingKey);
  return key;
}

namespace {

// The text an answer object carries: OpenAI's choices[0].delta / .message content, or Ollama's
// message.content (chat) or response (generate).
void append_answer(std::string& out, const Json& j) {
  if (!j.is_object()) return;
  if (auto c = j.find("choices"); c != j.end() && c->is_array() && !c->empty()) {
    const Json& choice = (*c)[0];
    for (const char* field : {"delta", "message"})
      if (auto m = choice.find(field); m != choice.end() && m->is_object())
        if (auto t = m->find("content"); t != m->end() && t->is_string()) out += t->get_ref<const std::string&>();
    return;
  }
  if (auto m = j.find("message"); m != j.end() && m->is_object())
    if (auto t = m->find("content"); t != m->end() && t->is_string()) out += t->get_ref<const std::string&>();
}

}  // namespace

std::string answer_text(std::string_view content_type, std::string_view body) {
  std::string out;
  const bool sse = content_type.starts_with("text/event-stream");
  const bool ndjson = content_type.starts_with("application/x-ndjson");
  if (!sse && !ndjson) {
    append_answer(out, Json::parse(body, nullptr, false));
    return out;
  }
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (sse) {
      if (!line.starts_with("data:")) continue;
      line.remove_prefix(5);
    }
    append_answer(out, Json::parse(line, nullptr, false));
  }
  return out;
}

std::string key_with_answer(std::string_view key, std::string_view answer) {
  std::string out(key);
  out += "assistant";
  out += '\x1f';
  out += answer;
  out += '\x1e';
  return out;
}

}  // namespace nagare
