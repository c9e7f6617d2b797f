#include "api/ollama_request.h"

#include <cmath>
#include <cstdlib>

#include "api/api_error.h"
#include "api/structured_output.h"

namespace nagare {
namespace {

// Options Ollama accepts that only tune its own runtime (threads, GPU layers, memory mapping,
// batch size...): nagare has its own settings for these, so they are ignored with a log line.
constexpr const char* kRuntimeOptions[] = {"num_thread", "num_gpu", "main_gpu", "num_batch", "use_mmap",
                                           "use_mlock", "numa", "low_vram", "num_keep", "vocab_only", "f16_kv"};
constexpr size_t kMaxStops = 16;

bool is_runtime_option(const std::string& key) {
  for (const char* k : kRuntimeOptions)
    if (key == k) return true;
  return false;
}

// Ollama's own values for options that would change the output but that nagare's sampler lacks:
// anything else is refused, since ignoring it would silently give other text than asked for.
void refuse_unless(const Json& options, const char* key, double neutral) {
  auto it = options.find(key);
  if (it == options.end() || it->is_null()) return;
  if (!it->is_number() || it->get<double>() != neutral)
    throw ApiError::invalid(std::string("option '") + key + "' is not supported (only " +
                                (neutral == 0 ? "0" : "1") + ", its neutral value)",
                            std::string("options.") + key);
}

void parse_options(const Json& body, OllamaRequest& r) {
  SamplingParams& s = r.generate.sampling;
  s = ollama_default_sampling();
  const Json* options = get_object(body, "options");
  if (options == nullptr) return;
  const Json& o = *options;
  if (auto v = get_number(o, "temperature", 0.0, 100.0)) s.temperature = float(*v);
  if (auto v = get_integer(o, "top_k", -1, INT32_MAX)) s.top_k = *v <= 0 ? 0 : int32_t(*v);
  if (auto v = get_number(o, "top_p", 0.0, 1.0)) s.top_p = *v <= 0 ? 1.0f : float(*v);  // Ollama: <= 0 means off
  if (auto v = get_number(o, "min_p", 0.0, 1.0)) s.min_p = float(*v);
  if (auto v = get_number(o, "repeat_penalty", 0.0, 100.0)) s.repetition_penalty = *v <= 0 ? 1.0f : float(*v);
  if (auto v = get_integer(o, "repeat_last_n", -1, INT32_MAX)) s.repeat_last_n = int32_t(*v);
  if (auto v = get_number(o, "presence_penalty", -100.0, 100.0)) s.presence_penalty = float(*v);
  if (auto v = get_number(o, "frequency_penalty", -100.0, 100.0)) s.frequency_penalty = float(*v);
  if (auto v = get_integer(o, "seed", INT64_MIN, INT64_MAX)) s.seed = *v < 0 ? kRandomSeed : uint64_t(*v);
  // -1: until the end of generation; -2: fill the context (the same here: output stops there).
  if (auto v = get_integer(o, "num_predict", -2, INT32_MAX)) r.generate.max_tokens = *v < 0 ? -1 : int32_t(*v);
  if (auto v = get_integer(o, "num_ctx", 1, INT32_MAX)) r.num_ctx = int32_t(*v);
  if (auto stops = get_string_or_list(o, "stop", kMaxStops)) {
    for (auto& st : *stops)
      if (!st.empty()) r.generate.stop.push_back(std::move(st));
  }
  refuse_unless(o, "mirostat", 0);
  refuse_unless(o, "typical_p", 1);
  refuse_unless(o, "tfs_z", 1);
  for (auto it = o.begin(); it != o.end(); ++it)
    if (is_runtime_option(it.key())) r.ignored_options.push_back(it.key());
}

void parse_common(const Json& body, OllamaRequest& r) {
  auto model = get_string(body, "model");
  if (!model || model->empty()) throw ApiError::invalid("model is required", "model");
  r.model = *model;
  r.stream = get_bool(body, "stream").value_or(true);
  if (auto it = body.find("keep_alive"); it != body.end() && !it->is_null()) r.keep_alive = parse_keep_alive(*it);
  if (auto it = body.find("format"); it != body.end()) r.generate.grammar = ollama_format_grammar(*it);
  parse_options(body, r);
}

[[noreturn]] void refuse_images(const std::string& where) {
  throw ApiError::invalid("images are not supported: the models nagare serves read text only", where);
}

}  // namespace

SamplingParams ollama_default_sampling() {
  SamplingParams s;
  s.temperature = 0.8f;
  s.top_k = 40;
  s.top_p = 0.9f;
  s.min_p = 0.0f;
  s.repetition_penalty = 1.1f;
  s.repeat_last_n = 64;
  s.frequency_penalty = 0.0f;
  s.presence_penalty = 0.0f;
  s.seed = kRandomSeed;
  return s;
}

double parse_keep_alive(const Json& value, const std::string& param) {
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) throw ApiError::invalid("'" + param + "' must be a duration like \"5m\" or a number of seconds", param);
  const std::string s = value.get<std::string>();
  auto bad = [&] { return ApiError::invalid("'" + param + "' is not a duration: \"" + s + "\" (e.g. \"5m\", \"1h30m\", \"-1\")", param); };
  if (s.empty()) throw bad();
  // A bare number is seconds.
  char* end = nullptr;
  const double plain = std::strtod(s.c_str(), &end);
  if (end != nullptr && *end == '\0' && std::isfinite(plain)) return plain;
  // Go's time.ParseDuration: an optional sign, then (number unit)+ with units ns us µs ms s m h.
  size_t i = 0;
  double sign = 1;
  if (s[i] == '-' || s[i] == '+') sign = s[i++] == '-' ? -1 : 1;
  double total = 0;
  if (i == s.size()) throw bad();
  while (i < s.size()) {
    const char* start = s.c_str() + i;
    const double n = std::strtod(start, &end);
    if (end == start || !std::isfinite(n) || n < 0) throw bad();
    i = size_t(end - s.c_str());
    size_t j = i;
    while (j < s.size() && !(std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    const std::string unit = s.substr(i, j - i);
    double scale;
    if (unit == "h") scale = 3600;
    else if (unit == "m") scale = 60;
    else if (unit == "s") scale = 1;
    else if (unit == "ms") scale = 1e-3;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e-6;
    else if (unit == "ns") scale = 1e-9;
    else throw bad();
    total += n * scale;
    i = j;
  }
  return sign * total;
}

OllamaRequest parse_ollama_generate(const Json& body) {
  OllamaRequest r;
  r.endpoint = OllamaEndpoint::kGenerate;
  parse_common(body, r);
  if (auto it = body.find("tools"); it != body.end() && !it->is_null() && !(it->is_array() && it->empty()))
    throw ApiError::invalid("'tools' needs /api/chat", "tools");
  r.prompt = get_string(body, "prompt").value_or("");
  r.system = get_string(body, "system").value_or("");
  r.raw = get_bool(body, "raw").value_or(false);
  if (auto t = get_string(body, "template"); t && !t->empty())
    throw ApiError::invalid("'template' (a Go template) is not supported: nagare renders prompts with the model's "
                            "Jinja chat template; send 'raw': true with a formatted prompt instead",
                            "template");
  if (auto s = get_string(body, "suffix"); s && !s->empty())
    throw ApiError::invalid("'suffix' (fill-in-the-middle) is not supported", "suffix");
  if (auto it = body.find("images"); it != body.end() && !it->is_null() && !(it->is_array() && it->empty()))
    refuse_images("images");
  if (auto it = body.find("context"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) throw ApiError::invalid("'context' must be a list of token ids", "context");
    for (const Json& t : *it) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX)
        throw ApiError::invalid("'context' must hold token ids (non-negative integers)", "context");
      r.context.push_back(int32_t(t.get<int64_t>()));
    }
  }
  return r;
}

OllamaRequest parse_ollama_chat(const Json& body) {
  OllamaRequest r;
  r.endpoint = OllamaEndpoint::kChat;
  parse_common(body, r);
  r.tools = parse_tool_request(body);
  auto it = body.find("messages");
  if (it != body.end() && !it->is_null()) {
    if (!it->is_array()) throw ApiError::invalid("'messages' must be a list, got " + json_type_name(*it), "messages");
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& m = (*it)[i];
      const std::string p = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) throw ApiError::invalid("'" + p + "' must be an object", p);
      auto role = get_string(m, "role");
      if (!role) throw ApiError::invalid("'" + p + ".role' is required", p + ".role");
      if (*role != "system" && *role != "user" && *role != "assistant" && *role != "tool")
        throw ApiError::invalid("'" + p + ".role' must be 'system', 'user', 'assistant' or 'tool', got '" + *role + "'", p + ".role");
      if (auto im = m.find("images"); im != m.end() && !im->is_null() && !(im->is_array() && im->empty()))
        refuse_images(p + ".images");
      Json msg = {{"role", *role}, {"content", get_string(m, "content").value_or("")}};
      if (auto calls = m.find("tool_calls"); calls != m.end() && calls->is_array() && !calls->empty()) {
        // Ollama's calls carry arguments as an object and no id: OpenAI's shape for the template.
        Json list = Json::array();
        for (size_t c = 0; c < calls->size(); ++c) {
          const Json* fn = get_object((*calls)[c], "function");
          auto name = fn ? get_string(*fn, "name") : std::nullopt;
          const std::string q = p + ".tool_calls[" + std::to_string(c) + "].function.name";
          if (!name) throw ApiError::invalid("'" + q + "' is required", q);
          auto args = fn->find("arguments");
          list.push_back({{"id", "call_" + std::to_string(c)},
                          {"type", "function"},
                          {"function", {{"name", *name},
                                        {"arguments", args == fn->end() || args->is_null() ? std::string("{}")
                                                      : args->is_string() ? args->get<std::string>() : args->dump()}}}});
        }
        msg["tool_calls"] = std::move(list);
      }
      if (auto name = get_string(m, "tool_name")) msg["name"] = *name;
      r.messages.push_back(std::move(msg));
    }
  }
  return r;
}

}  // namespace nagare
