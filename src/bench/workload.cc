#include "bench/workload.h"

#include <fstream>
#include <sstream>

#include "bench/word_list.h"
#include "util/error.h"

namespace nagare::bench {
namespace {

using json = nlohmann::json;

// SplitMix64: a well-mixed, platform-independent stream from any seed (std distributions are
// implementation-defined, which would make prompts differ between standard libraries).
struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// Keys of a file's request object that describe the run rather than the request.
bool is_meta_key(const std::string& k) {
  return k == "name" || k == "concurrency" || k == "model" || k == "stream" || k == "stream_options";
}

std::string where(const std::string& source, size_t index, bool many) {
  return many ? source + ": request " + std::to_string(index + 1) : source;
}

json to_body(const json& req, const std::string& at, Endpoint endpoint) {
  if (!req.is_object()) throw Error(at + ": a request must be a JSON object, got " + std::string(req.type_name()));
  json body = json::object();
  for (auto it = req.begin(); it != req.end(); ++it)
    if (!is_meta_key(it.key())) body[it.key()] = it.value();
  bool has_messages = body.contains("messages"), has_prompt = body.contains("prompt");
  if (!has_messages && !has_prompt) throw Error(at + ": a request needs \"messages\" (chat) or \"prompt\" (completions)");
  if (has_messages) {
    const json& msgs = body["messages"];
    if (!msgs.is_array() || msgs.empty()) throw Error(at + ": \"messages\" must be a non-empty array");
    for (size_t i = 0; i < msgs.size(); ++i) {
      const json& m = msgs[i];
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content"))
        throw Error(at + ": messages[" + std::to_string(i) + "] needs a string \"role\" and a \"content\"");
    }
    if (endpoint == Endpoint::kCompletions)
      throw Error(at + ": holds chat \"messages\"; use --endpoint chat (the default) for this file");
  } else {
    if (!body["prompt"].is_string()) throw Error(at + ": \"prompt\" must be a string");
    if (endpoint == Endpoint::kChat) {
      body["messages"] = json::array({{{"role", "user"}, {"content", body["prompt"]}}});
      body.erase("prompt");
    }
  }
  if (body.contains("max_tokens") && (!body["max_tokens"].is_number_integer() || body["max_tokens"].get<int64_t>() < 1))
    throw Error(at + ": \"max_tokens\" must be a positive integer");
  return body;
}

void read_concurrency(const json& v, const std::string& source, std::vector<int>& out) {
  auto one = [&](const json& x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 1 || x.get<int64_t>() > 100000)
      throw Error(source + ": \"concurrency\" must be a positive integer or a list of them");
    out.push_back(x.get<int>());
  };
  if (v.is_array()) {
    for (const json& x : v) one(x);
  } else {
    one(v);
  }
}

}  // namespace

std::string random_words(uint64_t seed, int64_t n) {
  const auto& words = word_list();
  SplitMix64 rng{seed};
  std::string out;
  out.reserve(size_t(std::max<int64_t>(n, 0)) * 8);
  for (int64_t i = 0; i < n; ++i) {
    if (i) out += ' ';
    out.append(words[rng.next() % words.size()]);
  }
  return out;
}

void parse_workload_text(const std::string& text, const std::string& source, Endpoint endpoint,
                         std::vector<json>& bodies, std::vector<int>& concurrency, std::string& name) {
  json doc;
  bool jsonl = false;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error&) {
    jsonl = true;  // not one JSON value: try one request per line
  }
  if (jsonl) {
    std::istringstream in(text);
    std::string line;
    size_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json req;
      try {
        req = json::parse(line);
      } catch (const json::parse_error& e) {
        throw Error(source + ": line " + std::to_string(lineno) + " is not JSON (" + e.what() + ")");
      }
      if (req.is_object() && req.contains("concurrency") && concurrency.empty())
        read_concurrency(req["concurrency"], source, concurrency);
      bodies.push_back(to_body(req, source + ": line " + std::to_string(lineno), endpoint));
    }
  } else if (doc.is_array()) {
    for (size_t i = 0; i < doc.size(); ++i) bodies.push_back(to_body(doc[i], where(source, i, true), endpoint));
  } else if (doc.is_object()) {
    if (doc.contains("concurrency")) read_concurrency(doc["concurrency"], source, concurrency);
    if (doc.contains("name") && doc["name"].is_string()) name = doc["name"].get<std::string>();
    if (doc.contains("requests")) {
      const json& reqs = doc["requests"];
      if (!reqs.is_array()) throw Error(source + ": \"requests\" must be an array");
      for (size_t i = 0; i < reqs.size(); ++i) bodies.push_back(to_body(reqs[i], where(source, i, true), endpoint));
    } else {
      bodies.push_back(to_body(doc, source, endpoint));
    }
  } else {
    throw Error(source + ": expected a request object, an array of them, or JSON Lines");
  }
  if (bodies.empty()) throw Error(source + ": holds no requests");
}

Workload Workload::create(const WorkloadOptions& options) {
  Workload w;
  w.opt_ = options;
  if (options.kind == "random") {
    w.name_ = "random";
    if (w.opt_.input_len < 0) w.opt_.input_len = kDefaultRandomInputLen;
  } else if (options.kind == "shared-prefix") {
    w.name_ = "shared-prefix";
    if (w.opt_.input_len < 0) w.opt_.input_len = kDefaultSuffixLen;
    if (w.opt_.prefix_len < 1) throw Error("--prefix-len must be at least 1");
    // One prefix per seed; a fixed stream offset keeps it apart from the suffixes' streams.
    w.prefix_ = random_words(options.seed ^ 0x5EED0F1E5EED0F1Eull, w.opt_.prefix_len);
  } else {
    std::ifstream in(options.kind, std::ios::binary);
    if (!in) throw Error("cannot read workload file " + options.kind + " (expected random, shared-prefix or a file)");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw Error("cannot read workload file " + options.kind);
    size_t slash = options.kind.find_last_of('/');
    w.name_ = options.kind.substr(slash == std::string::npos ? 0 : slash + 1);
    parse_workload_text(ss.str(), options.kind, options.endpoint, w.bodies_, w.concurrency_, w.name_);
    return w;
  }
  if (w.opt_.input_len < 1) throw Error("--input-len must be at least 1");
  if (w.opt_.output_len < 0) w.opt_.output_len = kDefaultOutputLen;
  if (w.opt_.output_len < 1) throw Error("--output-len must be at least 1");
  return w;
}

json Workload::request(uint64_t i) const {
  if (!bodies_.empty()) {
    json body = bodies_[i % bodies_.size()];
    if (opt_.output_len > 0) body["max_tokens"] = opt_.output_len;
    return body;
  }
  // Each request's words come from its own stream, so request i is the same in every run.
  std::string text = random_words(opt_.seed * 0x100000001B3ull + i + 1, opt_.input_len);
  json body = json::object();
  if (opt_.endpoint == Endpoint::kChat) {
    json msgs = json::array();
    // The prefix goes in a system message so chat templates keep it at the very front.
    if (!prefix_.empty()) msgs.push_back({{"role", "system"}, {"content", prefix_}});
    msgs.push_back({{"role", "user"}, {"content", text}});
    body["messages"] = std::move(msgs);
  } else {
    body["prompt"] = prefix_.empty() ? text : prefix_ + " " + text;
  }
  body["max_tokens"] = opt_.output_len;
  return body;
}

json Workload::describe() const {
  json d = {{"kind", bodies_.empty() ? opt_.kind : std::string("file")}, {"name", name_}};
  if (bodies_.empty()) {
    d["input_len"] = opt_.input_len;
    if (!prefix_.empty()) d["prefix_len"] = opt_.prefix_len;
    d["seed"] = opt_.seed;
  } else {
    d["path"] = opt_.kind;
    d["requests_in_file"] = bodies_.size();
  }
  if (opt_.output_len > 0) d["output_len"] = opt_.output_len;
  return d;
}

}  // namespace nagare::bench
