#include "server/ollama_routes.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <sys/stat.h>

#include "api/api_error.h"
#include "api/embeddings_job.h"
#include "api/ollama_job.h"
#include "api/ollama_models.h"
#include "api/openai_request.h"
#include "server/job_source.h"
#include "util/sha256.h"

namespace nagare {
namespace {

constexpr const char* kVersion = "0.1.0";  // nagare's; Ollama clients only show it
constexpr const char* kForever = "9999-12-31T23:59:59Z";

// What /api/tags and /api/ps say about the pinned (-m) model; the digest (a hash of the whole
// file) is computed on first use, not at start-up. Store models have theirs in the manifest.
class PinnedFacts {
 public:
  explicit PinnedFacts(std::shared_ptr<const LoadedModel> model) : model_(std::move(model)) {}
  const std::string& digest() const {
    std::call_once(once_, [this] {
      const GgufFile& f = model_->engine().model().file();
      Sha256 h;
      std::FILE* in = std::fopen(f.path().c_str(), "rb");
      if (in == nullptr) return;
      std::vector<char> buf(1 << 20);
      for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), in)) > 0;) h.update(buf.data(), n);
      std::fclose(in);
      digest_ = h.hex_digest();
    });
    return digest_;
  }
  int64_t modified() const {
    struct stat st{};
    return ::stat(model_->engine().model().file().path().c_str(), &st) == 0 ? int64_t(st.st_mtime)
                                                                              : model_->served().created();
  }

 private:
  std::shared_ptr<const LoadedModel> model_;
  mutable std::once_flag once_;
  mutable std::string digest_;
};

// `details` of store models, read from their GGUF headers once per blob.
class DetailsCache {
 public:
  Json get(const StoredModel& m) {
    std::lock_guard lk(mu_);
    auto it = cache_.find(m.manifest.weights_digest);
    if (it != cache_.end()) return it->second;
    Json d;
    try {
      d = ollama_details(*GgufFile::open(m.weights_path));
    } catch (const Error&) {  // a damaged blob is listed anyway; loading it says what is wrong
      d = Json{{"format", "gguf"}};
    }
    return cache_[m.manifest.weights_digest] = d;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Json> cache_;
};

struct Shared {
  Shared(ModelRegistry& m, ResponseCache* c) : models(m), cache(c) {}
  ModelRegistry& models;
  ResponseCache* cache;  // may be null
  DetailsCache details;

  // Facts about the pinned model, made on first use: the -m model is pinned after the routes
  // are added (the port answers while it loads).
  const PinnedFacts& pinned_facts(const std::shared_ptr<const LoadedModel>& model) {
    std::lock_guard lk(mu);
    if (!pinned) pinned = std::make_unique<PinnedFacts>(model);
    return *pinned;
  }

 private:
  std::mutex mu;
  std::unique_ptr<PinnedFacts> pinned;
};

std::string tagged(const std::string& name) { return name.find(':') == std::string::npos ? name + ":latest" : name; }

ApiError ollama_not_found(const std::string& name) {
  return ApiError(404, "model '" + name + "' not found", "not_found_error", "model", "model_not_found");
}

// The registry's lease, with Ollama's wording for an unknown model.
ModelLease acquire(ModelRegistry& models, const std::string& name, std::optional<double> keep_alive, int64_t* load_ns) {
  try {
    return models.acquire(name, keep_alive, load_ns);
  } catch (const ApiError& e) {
    if (e.code() == "model_not_found") throw ollama_not_found(name);
    throw;
  }
}

// A manifest's PARAMETERs are defaults: the request's own options win.
Json with_model_defaults(Json body, const Manifest& manifest) {
  if (manifest.parameters.empty()) return body;
  Json& options = body["options"];
  if (!options.is_object()) options = Json::object();
  for (auto it = manifest.parameters.begin(); it != manifest.parameters.end(); ++it)
    if (!options.contains(it.key())) options[it.key()] = Json::parse(it.value().dump());
  return body;
}

HttpResponse unloaded(const OllamaRequest& r) {
  Json j;
  j["model"] = r.model;
  j["created_at"] = rfc3339_now();
  if (r.endpoint == OllamaEndpoint::kChat) j["message"] = {{"role", "assistant"}, {"content", ""}};
  else j["response"] = "";
  j["done"] = true;
  j["done_reason"] = "unload";
  return HttpResponse::json(200, to_wire(j));
}

HttpResponse run_job(Shared& shared, const HttpRequest& req, OllamaRequest (*parse)(const Json&)) {
  const Json body = parse_json_body(req.body);
  OllamaRequest request = parse(body);
  note_generation(req, body, "ollama", request.endpoint == OllamaEndpoint::kChat ? "messages" : "prompt",
                  request.stream);
  if (req.record) request.generate.user = req.record->user;
  // `ollama stop`: nothing to generate and keep_alive 0 unloads without loading first.
  if (request.load_only() && request.keep_alive && *request.keep_alive == 0) {
    shared.models.unload(request.model);
    return unloaded(request);
  }
  int64_t load_ns = 0;
  ModelLease lease = acquire(shared.models, request.model, request.keep_alive, &load_ns);
  if (lease->stored() && !lease->stored()->manifest.parameters.empty())
    request = parse(with_model_defaults(body, lease->stored()->manifest));
  for (const std::string& o : request.ignored_options)
    std::fprintf(stderr, "nagare: ignoring Ollama option '%s' (a runtime setting: see nagare serve --help)\n", o.c_str());
  auto job = std::make_unique<OllamaJob>(lease->served(), std::move(request), load_ns, shared.cache);
  HttpResponse res;
  if (!job->cache_status().empty()) res.headers.emplace_back("X-Nagare-Cache", job->cache_status());
  res.streamed = job->streaming();
  if (res.streamed) res.content_type = "application/x-ndjson";
  res.source = std::make_shared<JobSource<OllamaJob>>(std::move(job), std::move(lease), req.record);
  return res;
}

// /api/embed and /api/embeddings: every input in one EmbeddingsJob. No input only loads the model
// (and keep_alive 0 unloads it again as the lease ends), as Ollama.
HttpResponse run_embeddings(Shared& shared, const HttpRequest& req, EmbeddingsRequest (*parse)(const Json&)) {
  const Json body = parse_json_body(req.body);
  EmbeddingsRequest request = parse(body);
  note_generation(req, body, "ollama", request.api == EmbeddingsApi::kOllamaLegacy ? "prompt" : "input", false);
  int64_t load_ns = 0;
  ModelLease lease = acquire(shared.models, request.model, request.keep_alive, &load_ns);
  auto job = std::make_unique<EmbeddingsJob>(lease->served(), std::move(request), load_ns);
  job->submit();
  HttpResponse res;
  res.source = std::make_shared<JobSource<EmbeddingsJob>>(std::move(job), std::move(lease), req.record);
  return res;
}

Json pinned_entry(const LoadedModel& model, const PinnedFacts& facts) {
  const GgufFile& f = model.engine().model().file();
  Json m;
  m["name"] = tagged(model.name());
  m["model"] = tagged(model.name());
  m["modified_at"] = rfc3339(facts.modified());
  m["size"] = int64_t(f.file_size());
  m["digest"] = facts.digest();
  m["details"] = ollama_details(f);
  return m;
}

Json stored_entry(const StoredModel& s, DetailsCache& details) {
  Json m;
  m["name"] = s.name.display();
  m["model"] = s.name.display();
  m["modified_at"] = rfc3339(s.modified_unix);
  m["size"] = int64_t(s.manifest.weights_size);
  m["digest"] = s.manifest.digest_hex();
  m["details"] = details.get(s);
  return m;
}

// A manifest's parameters as Ollama's /api/show writes them: "name value" lines.
std::string parameters_text(const Json& parameters) {
  std::string out;
  auto line = [&](const std::string& k, const Json& v) {
    out += k + " " + (v.is_string() ? v.get<std::string>() : v.dump()) + "\n";
  };
  for (auto it = parameters.begin(); it != parameters.end(); ++it) {
    if (it.value().is_array())
      for (const Json& v : it.value()) line(it.key(), v);
    else
      line(it.key(), it.value());
  }
  return out;
}

Json show(Shared& shared, const std::string& name, bool verbose) {
  Json out;
  if (auto p = shared.models.pinned(); p && shared.models.canonical_name(name) == p->name()) {
    const GgufFile& f = p->engine().model().file();
    out["license"] = f.get_string("general.license", "");
    out["modelfile"] = "# Modelfile generated by nagare\nFROM " + f.path() + "\n";
    out["parameters"] = "";
    out["template"] = p->served().chat().chat_template().source();
    out["details"] = ollama_details(f);
    out["model_info"] = ollama_model_info(f, verbose);
    out["capabilities"] = Json::array({"completion"});
    out["modified_at"] = rfc3339(shared.pinned_facts(p).modified());
    return out;
  }
  const ModelStore* store = shared.models.store();
  const std::optional<std::string> key = shared.models.canonical_name(name);
  if (!store || !key) throw ollama_not_found(name);
  std::optional<StoredModel> s;
  try {
    s = store->find(ModelName::parse(*key));
  } catch (const Error& e) {
    throw ApiError(500, "model '" + name + "': " + e.what(), "server_error", "model");
  }
  if (!s) throw ollama_not_found(name);
  std::unique_ptr<GgufFile> f;
  try {
    f = GgufFile::open(s->weights_path);
  } catch (const Error& e) {
    throw ApiError(500, "model '" + name + "' cannot be read: " + e.what(), "server_error", "model");
  }
  const Manifest& m = s->manifest;
  std::string modelfile = "# Modelfile generated by nagare\nFROM " + s->name.display() + "\n";
  if (m.system) modelfile += "SYSTEM \"\"\"" + *m.system + "\"\"\"\n";
  out["license"] = m.license.value_or(f->get_string("general.license", ""));
  out["modelfile"] = modelfile;
  out["parameters"] = parameters_text(m.parameters);
  out["template"] = m.template_text.value_or(f->get_string("tokenizer.chat_template", ""));
  if (m.system) out["system"] = *m.system;
  out["details"] = ollama_details(*f);
  out["model_info"] = ollama_model_info(*f, verbose);
  out["capabilities"] = Json::array({"completion"});
  out["modified_at"] = rfc3339(s->modified_unix);
  return out;
}

}  // namespace

void add_ollama_routes(Router& router, ModelRegistry& models, ResponseCache* cache) {
  router.set_error_formatter("/api/", [](const ApiError& e) {
    return HttpResponse::json(e.status(), to_wire(Json{{"error", e.what()}}));
  });
  auto shared = std::make_shared<Shared>(models, cache);

  router.add("POST", "/api/generate", [shared](const HttpRequest& req) { return run_job(*shared, req, parse_ollama_generate); });
  router.add("POST", "/api/chat", [shared](const HttpRequest& req) { return run_job(*shared, req, parse_ollama_chat); });
  router.add("POST", "/api/embed", [shared](const HttpRequest& req) { return run_embeddings(*shared, req, parse_ollama_embed); });
  router.add("POST", "/api/embeddings",
             [shared](const HttpRequest& req) { return run_embeddings(*shared, req, parse_ollama_embeddings); });
  router.add("GET", "/api/tags", [shared](const HttpRequest& req) {
    Json list = Json::array();
    std::string pinned_name;
    if (auto p = shared->models.pinned()) {
      list.push_back(pinned_entry(*p, shared->pinned_facts(p)));
      pinned_name = tagged(p->name());
    }
    if (const ModelStore* store = shared->models.store())
      for (const StoredModel& s : store->list())
        if (s.name.display() != pinned_name) list.push_back(stored_entry(s, shared->details));
    if (req.record)  // what the request's API key may not use stays unlisted
      list.erase(std::remove_if(list.begin(), list.end(), [&](const Json& m) { return !req.record->may_use(m["name"].get<std::string>()); }),
                 list.end());
    return HttpResponse::json(200, to_wire(Json{{"models", std::move(list)}}));
  });
  router.add("GET", "/api/ps", [shared](const HttpRequest& req) {
    Json list = Json::array();
    for (const LoadedModelInfo& info : shared->models.loaded()) {
      const LoadedModel& model = *info.model;
      Json m;
      if (model.pinned()) {
        m = pinned_entry(model, shared->pinned_facts(info.model));
        m.erase("modified_at");
      } else {
        m = stored_entry(*model.stored(), shared->details);
        m.erase("modified_at");
        m["size"] = int64_t(model.size_bytes());  // what it holds: weights and KV cache
      }
      m["expires_at"] = info.expires_unix < 0 ? std::string(kForever) : rfc3339(info.expires_unix);
      m["size_vram"] = 0;
      m["context_length"] = model.engine().options().n_ctx;
      if (req.record && !req.record->may_use(model.name())) continue;
      list.push_back(std::move(m));
    }
    return HttpResponse::json(200, to_wire(Json{{"models", std::move(list)}}));
  });
  router.add("POST", "/api/show", [shared](const HttpRequest& req) {
    const Json body = parse_json_body(req.body);
    // "model", or "name" from older clients.
    auto name = get_string(body, "model");
    if (!name || name->empty()) name = get_string(body, "name");
    if (!name || name->empty()) throw ApiError::invalid("model is required", "model");
    const bool verbose = get_bool(body, "verbose").value_or(false);
    return HttpResponse::json(200, to_wire(show(*shared, *name, verbose)));
  });
  router.add("GET", "/api/version", [](const HttpRequest&) {
    return HttpResponse::json(200, to_wire(Json{{"version", kVersion}}));
  });
}

}  // namespace nagare
