#include "server/ollama_store_routes.h"

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>

#include "api/api_error.h"
#include "api/json_fields.h"
#include "api/openai_request.h"
#include "store/manifest.h"
#include "store/modelfile.h"
#include "store/pull.h"

namespace nagare {
namespace {

ModelStore& store_of(ModelRegistry& models) {
  ModelStore* store = models.store();
  if (!store)
    throw ApiError::invalid("this server has no model store: it serves only the model given by -m "
                            "(start it without -m, or with --store, to manage models over the API)");
  return *store;
}

// "model", or "name" from older clients; parsed as a store name (400 saying what is wrong).
ModelName model_name(const Json& body, const char* key = "model", const char* legacy = "name") {
  auto text = get_string(body, key);
  if ((!text || text->empty()) && legacy) text = get_string(body, legacy);
  if (!text || text->empty()) throw ApiError::invalid(std::string(key) + " is required", key);
  try {
    return ModelName::parse(*text);
  } catch (const Error& e) {
    throw ApiError::invalid(e.what(), key);
  }
}

ApiError not_found(const ModelName& name) {
  return ApiError(404, "model '" + name.display() + "' not found", "not_found_error", "model", "model_not_found");
}

// A store failure that is not the client's doing (a corrupt manifest, a failed write).
ApiError store_failed(const std::string& what, const Error& e) {
  return ApiError(500, what + ": " + e.what(), "server_error", "model");
}

std::optional<StoredModel> find_or_500(const ModelStore& store, const ModelName& name) {
  try {
    return store.find(name);
  } catch (const Error& e) {
    throw store_failed("model '" + name.display() + "'", e);
  }
}

// The pinned (-m) model is not in the store; say so instead of "not found".
void refuse_pinned(ModelRegistry& models, const ModelName& name, const char* what) {
  auto p = models.pinned();
  if (p && models.canonical_name(name.display()) == p->name())
    throw ApiError::invalid("'" + name.display() + "' is the model given by -m, not a store model; it cannot be " + what,
                            "model");
}

std::string line(const Json& j) { return to_wire(j) + "\n"; }

// ---- /api/create ---------------------------------------------------------------------------

// A JSON parameter value as the Modelfile text parse_parameter_value() checks.
std::string parameter_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void add_parameters(Modelfile& mf, const Json& parameters) {
  if (!parameters.is_object())
    throw ApiError::invalid("'parameters' must be an object, got " + json_type_name(parameters), "parameters");
  for (auto it = parameters.begin(); it != parameters.end(); ++it) {
    const std::string param = "parameters." + it.key();
    const ParameterSpec* spec = find_parameter_spec(it.key());
    if (!spec) throw ApiError::invalid("unknown parameter '" + it.key() + "'", param);
    try {
      if (spec->repeated) {
        nlohmann::json& list = mf.parameters[spec->name];
        list = nlohmann::json::array();
        for (const Json& v : it.value().is_array() ? it.value() : Json::array({it.value()}))
          list.push_back(parse_parameter_value(*spec, parameter_text(v)));
      } else {
        if (it.value().is_array() || it.value().is_object() || it.value().is_null())
          throw Error(std::string("parameter ") + spec->name + " takes one value");
        mf.parameters[spec->name] = parse_parameter_value(*spec, parameter_text(it.value()));
      }
    } catch (const Error& e) {
      throw ApiError::invalid(e.what(), param);
    }
  }
}

void add_messages(Modelfile& mf, const Json& messages) {
  if (!messages.is_array()) throw ApiError::invalid("'messages' must be a list, got " + json_type_name(messages), "messages");
  mf.messages.clear();
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const Json& m = messages[i];
    if (!m.is_object()) throw ApiError::invalid(p + " must be an object", p);
    const auto role = get_string(m, "role");
    if (!role || (*role != "system" && *role != "user" && *role != "assistant"))
      throw ApiError::invalid(p + ".role must be system, user or assistant", p + ".role");
    mf.messages.push_back({*role, get_string(m, "content").value_or("")});
  }
}

// The request as a Modelfile: its `modelfile` text (older clients) first, then the fields
// (`from`, `files`, `template`, `system`, `license`, `parameters`, `messages`), which win.
Modelfile create_request(const Json& body) {
  Modelfile mf;
  if (auto text = get_string(body, "modelfile"); text && !text->empty()) {
    try {
      mf = Modelfile::parse(*text, "modelfile");
    } catch (const Error& e) {
      throw ApiError::invalid(e.what(), "modelfile");
    }
  }
  for (const char* unsupported : {"quantize", "adapters"}) {
    auto it = body.find(unsupported);
    if (it != body.end() && !it->is_null() && !(it->is_string() && it->get<std::string>().empty()) && !(it->is_object() && it->empty()))
      throw ApiError::invalid(std::string("'") + unsupported + "' is not supported by nagare's create", unsupported);
  }
  if (auto from = get_string(body, "from"); from && !from->empty()) {
    mf.from = *from;
    mf.from_line = 0;
  }
  if (auto files = body.find("files"); files != body.end() && !files->is_null()) {
    // name -> digest of blobs already in the store (nagare takes no uploads): the .gguf is the weights.
    if (!files->is_object()) throw ApiError::invalid("'files' must be an object of file name to digest", "files");
    std::set<std::string> weights;
    for (auto it = files->begin(); it != files->end(); ++it) {
      if (!it.value().is_string() || !is_valid_digest(it.value().get<std::string>()))
        throw ApiError::invalid("files['" + it.key() + "'] must be a digest sha256:<64 hex digits>", "files");
      const std::string& n = it.key();
      if (n.size() > 5 && n.compare(n.size() - 5, 5, ".gguf") == 0) weights.insert(it.value().get<std::string>());
    }
    if (weights.size() != 1) throw ApiError::invalid("'files' must name exactly one .gguf file", "files");
    if (!mf.from.empty() && get_string(body, "from")) throw ApiError::invalid("give 'from' or 'files', not both", "files");
    mf.from = *weights.begin();
    mf.from_line = 0;
  }
  if (auto t = get_string(body, "template")) mf.template_text = *t;
  if (auto s = get_string(body, "system")) mf.system = *s;
  if (auto l = get_string_or_list(body, "license", 1 << 20)) {
    std::string joined;
    for (const std::string& part : *l) joined += (joined.empty() ? "" : "\n\n") + part;
    mf.license = joined;
  }
  if (auto p = body.find("parameters"); p != body.end() && !p->is_null()) add_parameters(mf, *p);
  if (auto m = body.find("messages"); m != body.end() && !m->is_null()) add_messages(mf, *m);
  if (mf.from.empty()) throw ApiError::invalid("'from' is required: the model (or blob) the new one builds on", "from");
  return mf;
}

HttpResponse create(ModelRegistry& models, const Json& body) {
  const ModelName name = model_name(body);
  refuse_pinned(models, name, "replaced");
  const Modelfile mf = create_request(body);
  ModelStore& store = store_of(models);
  Manifest m;
  try {
    m = store.create(name, mf, /*allow_paths=*/false);
  } catch (const Error& e) {
    throw ApiError::invalid(e.what(), mf.from_line > 0 ? "modelfile" : "from");
  }
  models.unload(name.display());
  std::fprintf(stderr, "nagare: created %s (weights %s)\n", name.display().c_str(), m.weights_digest.c_str());
  if (!get_bool(body, "stream").value_or(true)) return HttpResponse::json(200, to_wire(Json{{"status", "success"}}));
  HttpResponse r = HttpResponse::json(200, line({{"status", "using existing layer " + m.weights_digest}}) +
                                               line({{"status", "writing manifest"}}) + line({{"status", "success"}}));
  r.content_type = "application/x-ndjson";
  return r;
}

// ---- /api/pull -----------------------------------------------------------------------------

// One pull as an HTTP response: a thread runs it and queues Ollama-style progress objects
// ({"status": "pulling manifest"}, {"status", "digest", "total", "completed"}, ...,
// {"status": "success"}, or {"error": "..."}). Streamed, each object is a line; buffered, the
// body is the last object, with status 500 on failure. A client that goes away cancels it.
class PullResponse : public ResponseSource {
 public:
  PullResponse(ModelRegistry& models, std::string source, bool streamed)
      : st_(std::make_shared<State>()), streamed_(streamed) {
    st_->streamed = streamed;
    auto task = [st = st_, &models, source = std::move(source)] { run(*st, models, source); };
    if (!models.background().start(std::move(task), st_->cancel))
      throw ApiError(503, "the server is shutting down", "server_error", "", "shutting_down");
  }
  ~PullResponse() override { *st_->cancel = true; }

  void start(std::function<void()> wake) override {
    {
      std::lock_guard lk(st_->mu);
      st_->wake = std::move(wake);
    }
    st_->notify();
  }
  bool poll(std::string& out) override {
    std::lock_guard lk(st_->mu);
    if (streamed_) {
      out += st_->lines;
      st_->lines.clear();
    } else if (st_->finished) {
      out += st_->last;
    }
    return st_->finished;
  }
  void cancel() override { *st_->cancel = true; }
  int status() const override {
    std::lock_guard lk(st_->mu);
    return st_->status;
  }

 private:
  struct State {
    mutable std::mutex mu;
    std::function<void()> wake;
    bool streamed = true;
    std::string lines;  // streamed: not yet sent
    std::string last;   // the latest object
    bool finished = false;
    int status = 200;
    BackgroundTasks::Cancel cancel = std::make_shared<std::atomic<bool>>(false);

    void push(const Json& j, bool final = false, int final_status = 200) {
      {
        std::lock_guard lk(mu);
        last = line(j);
        if (streamed) lines += last;
        if (final) {
          finished = true;
          status = final_status;
        }
      }
      notify();
    }
    void notify() {
      std::function<void()> w;
      {
        std::lock_guard lk(mu);
        w = wake;
      }
      if (w) w();
    }
  };

  static void run(State& st, ModelRegistry& models, const std::string& source) {
    std::string last_status;
    uint64_t last_done = UINT64_MAX;
    PullOptions o;
    o.cancel = st.cancel.get();
    // Ollama's clients draw one bar per digest; without a stated one the file names the bar.
    auto bar = [](const PullProgress& p) {
      Json j;
      j["status"] = "pulling " + (p.digest.empty() ? p.file : p.digest.substr(7, 12));
      j["digest"] = p.digest.empty() ? p.file : p.digest;
      if (p.total > 0) j["total"] = p.total;
      j["completed"] = p.done;
      return j;
    };
    o.progress = [&](const PullProgress& p) {
      Json j;
      switch (p.phase) {
        case PullProgress::Phase::kResolving: j["status"] = "pulling manifest"; break;
        case PullProgress::Phase::kWaiting: j["status"] = "waiting for another pull of " + p.file; break;
        case PullProgress::Phase::kDownloading: j = bar(p); break;
        case PullProgress::Phase::kVerifying:
          if (p.done != last_done) st.push(bar(p));  // the bar ends full, as Ollama's does
          j["status"] = "verifying sha256 digest";
          break;
      }
      const std::string status = j["status"].get<std::string>();
      if (status == last_status && p.done == last_done) return;
      last_status = status;
      last_done = p.done;
      st.push(j);
    };
    try {
      ModelStore& store = store_of(models);
      PullResult r = pull_model(store, source, o);
      models.unload(r.model.name.display());  // a loaded older version gives way once idle
      st.push({{"status", "writing manifest"}});
      st.push({{"status", "success"}, {"model", r.model.name.display()}}, true);
      std::fprintf(stderr, "nagare: pulled %s (%s)\n", r.model.name.display().c_str(),
                   r.downloaded ? "downloaded" : "already in the store");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nagare: pull %s failed: %s\n", source.c_str(), e.what());
      st.push({{"error", e.what()}}, true, 500);
    }
  }

  std::shared_ptr<State> st_;
  bool streamed_;
};

}  // namespace

void add_ollama_store_routes(Router& router, ModelRegistry& models) {

  router.add("POST", "/api/pull", [&models](const HttpRequest& req) {
    const Json body = parse_json_body(req.body);
    auto source = get_string(body, "model");
    if (!source || source->empty()) source = get_string(body, "name");
    if (!source || source->empty()) throw ApiError::invalid("model is required", "model");
    if (!parse_pull_source(*source)) {
      try {
        ModelName::parse(*source);
      } catch (const Error& e) {
        throw ApiError::invalid(e.what(), "model");
      }
      throw ApiError::invalid("cannot pull '" + *source +
                                  "': nagare pulls hf.co/OWNER/REPO[:QUANT], hf.co/OWNER/REPO/FILE.gguf or an http(s) URL",
                              "model");
    }
    store_of(models);
    const bool streamed = get_bool(body, "stream").value_or(true);
    HttpResponse res;
    res.streamed = streamed;
    if (streamed) res.content_type = "application/x-ndjson";
    res.source = std::make_shared<PullResponse>(models, *source, streamed);
    return res;
  });

  router.add("POST", "/api/create", [&models](const HttpRequest& req) {
    return create(models, parse_json_body(req.body));
  });

  router.add("POST", "/api/copy", [&models](const HttpRequest& req) {
    const Json body = parse_json_body(req.body);
    const ModelName from = model_name(body, "source", nullptr);
    const ModelName to = model_name(body, "destination", nullptr);
    refuse_pinned(models, to, "replaced");
    ModelStore& store = store_of(models);
    if (!find_or_500(store, from)) throw not_found(from);
    try {
      store.copy(from, to);
    } catch (const Error& e) {
      throw store_failed("copy", e);
    }
    models.unload(to.display());
    return HttpResponse::json(200, "");
  });

  router.add("DELETE", "/api/delete", [&models](const HttpRequest& req) {
    const ModelName name = model_name(parse_json_body(req.body));
    refuse_pinned(models, name, "deleted");
    ModelStore& store = store_of(models);
    struct stat st {};  // not find(): a model whose manifest is damaged can still be deleted
    if (::stat(store.manifest_path(name).c_str(), &st) != 0) throw not_found(name);
    try {
      store.remove(name);
    } catch (const Error& e) {
      throw store_failed("delete", e);
    }
    models.unload(name.display());  // at once when idle, else when its requests end
    return HttpResponse::json(200, "");
  });

  // Whether a blob is in the store (clients ask before /api/create with `files`).
  router.add_prefix("HEAD", "/api/blobs/", [&models](const HttpRequest& req) {
    const std::string digest = req.path.substr(std::string("/api/blobs/").size());
    if (!is_valid_digest(digest)) throw ApiError::invalid("a blob is named sha256:<64 lower-case hex digits>", "digest");
    struct stat st {};
    HttpResponse r;
    r.status = ::stat(store_of(models).blob_path(digest).c_str(), &st) == 0 ? 200 : 404;
    return r;
  });
}

}  // namespace nagare
