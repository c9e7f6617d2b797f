// `nagare serve [-m MODEL]`: serves the model store (models load on first use) and/or one pinned
// model file over the OpenAI- and Ollama-compatible APIs until SIGINT / SIGTERM.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "api/model_registry.h"
#include "api/ollama_request.h"
#include "cli/commands.h"
#include "cli/http_flags.h"
#include "cli/kv_type_flags.h"
#include "engine/engine.h"
#include "model/model.h"
#include "ops/access_control.h"
#include "ops/audit_log.h"
#include "ops/metrics.h"
#include "ops/redis_cache.h"
#include "server/http_server.h"
#include "server/ollama_routes.h"
#include "server/ollama_store_routes.h"
#include "server/openai_routes.h"
#include "server/serving_state.h"
#include "server/web_routes.h"
#include "store/model_store.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/process_memory.h"

namespace nagare {
namespace {

struct ServeArgs {
  std::string model;
  int32_t ctx_size = kDefaultContext;
  int64_t kv_cache_mib = 0;
  int32_t max_batch_tokens = EngineOptions{}.max_batch_tokens;
  int32_t max_running = EngineOptions{}.max_running;
  int32_t threads = 0;
  std::string model_draft;  // drafts for the -m model
  int32_t draft_max = EngineOptions{}.draft_max;
  int32_t draft_step_tokens = EngineOptions{}.draft_step_tokens;
  std::string alias;
  std::string chat_template_file;  // replaces the -m model's chat template
  bool no_prefix_cache = false;
  bool swa_full = false;
  KvTypeFlags kv_types;
  bool embeddings = false;  // accepted as llama-server's flag; embeddings are always served
  std::string pooling;      // "": the model's (its GGUF's pooling_type, else mean)
  std::string keep_alive;  // Go duration or seconds; "": 5m
  int32_t max_loaded = 3;
  int64_t memory_budget_mib = 0;  // 0: physical memory
  bool store = false;             // with -m: serve the store too
  bool no_webui = false;          // no chat page at / nor dashboard
  std::string audit;  // "": the default database
  bool no_audit = false;
  bool audit_redact = false;
  int audit_flush_ms = 1000;
  int64_t cache_mib = 64;
  std::string cache_url;
  int64_t cache_ttl_s = 3600;
  std::string ssl_cert_file, ssl_key_file;
  int32_t max_queue = 256;
  double request_timeout_s = 0;
  HttpFlags http;
};

std::string served_name(const ServeArgs& a) {
  if (!a.alias.empty()) return a.alias;
  const std::filesystem::path p(a.model);
  return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

int run_serve(const ServeArgs& a) {
  if (!a.model_draft.empty() && a.model.empty()) throw Error("--model-draft drafts for the model given by -m");
  std::string chat_template;
  if (!a.chat_template_file.empty()) {
    if (a.model.empty()) throw Error("--chat-template-file applies to the model given by -m");
    std::ifstream in(a.chat_template_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw Error("cannot read the chat template file " + a.chat_template_file);
    chat_template = text.str();
  }
  // Keys first: a bad keys file stops the start before anything else happens. Declared before
  // the router, whose middleware refers to it.
  std::unique_ptr<AccessControl> access = make_access_control(a.http);
  Metrics metrics;  // outlives the server: sessions it ends at shutdown still report
  std::unique_ptr<AuditLog> audit;  // likewise; its destructor writes what is queued
  if (!a.no_audit) {
    AuditOptions ao = parse_audit_target(a.audit.empty() ? "sqlite:" + default_audit_path() : a.audit);
    ao.redact = a.audit_redact;
    ao.flush_interval = std::chrono::milliseconds(a.audit_flush_ms);
    if (a.audit.empty()) std::filesystem::create_directories(std::filesystem::path(ao.path).parent_path());
    audit = std::make_unique<AuditLog>(ao, [&metrics](uint64_t rows) { metrics.count_audit_dropped(rows); });
    std::fprintf(stderr, "nagare: audit log: %s%s (--no-audit turns it off)\n", ao.path.c_str(),
                 ao.redact ? ", texts redacted" : "");
  }
  ServingState state;
  std::unique_ptr<ResponseCache> cache;  // before the router, whose handlers use it
  if (!a.cache_url.empty())
    cache = std::make_unique<ResponseCache>(std::make_unique<RedisCacheBackend>(a.cache_url),
                                            std::chrono::seconds(a.cache_ttl_s));
  else if (a.cache_mib > 0)
    cache = std::make_unique<ResponseCache>(std::make_unique<LruCacheBackend>(size_t(a.cache_mib) << 20),
                                            std::chrono::seconds(a.cache_ttl_s));
  // Bind first: a port in use fails at once, not after loading a large model.
  Router router;
  ServerOptions so = server_options(a.http, state);
  so.tls_cert_file = a.ssl_cert_file;
  so.tls_key_file = a.ssl_key_file;
  HttpServer server(router, so);

  EngineOptions eo;
  eo.n_ctx = a.ctx_size;
  eo.kv_cache_bytes = static_cast<size_t>(a.kv_cache_mib) << 20;
  eo.max_batch_tokens = a.max_batch_tokens;
  eo.max_running = a.max_running;
  eo.max_waiting = a.max_queue;
  eo.request_timeout_s = a.request_timeout_s;
  eo.prefix_cache = !a.no_prefix_cache;
  eo.swa_full = a.swa_full;
  eo.kv_types = a.kv_types.types();
  if (!a.pooling.empty()) eo.pooling = parse_pooling(a.pooling);
  eo.threads = a.threads;
  eo.draft_max = a.draft_max;
  eo.draft_step_tokens = a.draft_step_tokens;

  RegistryOptions ro;
  ro.engine = eo;
  if (!a.keep_alive.empty()) {
    try {
      ro.keep_alive_s = parse_keep_alive(Json(a.keep_alive), "--keep-alive");
    } catch (const Error& e) {
      throw Error(e.what());  // an ApiError: rethrown as a plain command-line error
    }
  }
  ro.max_loaded = a.max_loaded;
  ro.memory_budget = static_cast<uint64_t>(a.memory_budget_mib) << 20;
  std::unique_ptr<ModelStore> store;
  if (a.model.empty() || a.store) store = std::make_unique<ModelStore>(ModelStore::default_root());
  const std::string store_root = store ? store->root() : "";
  // Destroyed before the server: connections still held then give back their leases into the
  // registry's shared state, which outlives it.
  ModelRegistry models(std::move(store), ro);

  install_http_middleware(router, server, a.http, access.get());
  metrics.install(router, models);
  if (audit) router.observe([&audit](const RequestRecord& r) { audit->add(r); });
  add_service_routes(router, models, state);
  add_openai_routes(router, models, cache.get());
  add_ollama_routes(router, models, cache.get());
  add_ollama_store_routes(router, models);
  add_web_routes(router, !a.no_webui);

  // The port answers while the -m model loads (/health: 503 "loading"); the listening line
  // comes once it is ready.
  const std::string name = a.model.empty() ? "" : served_name(a);
  auto ready = [&] {
    state.set_phase(ServingState::Phase::kReady);
    if (!a.model.empty() && !store_root.empty())
      std::printf("nagare: listening on %s (model %s, model store %s)\n", server.url().c_str(), name.c_str(), store_root.c_str());
    else if (!a.model.empty())
      std::printf("nagare: listening on %s (model %s)\n", server.url().c_str(), name.c_str());
    else
      std::printf("nagare: listening on %s (model store %s)\n", server.url().c_str(), store_root.c_str());
    std::fflush(stdout);
  };
  std::string load_error;
  std::thread loader;
  if (a.model.empty()) {
    ready();
  } else {
    state.set_phase(ServingState::Phase::kLoading);
    std::fprintf(stderr, "nagare: loading %s (%s answers, /health says \"loading\" until then)\n", a.model.c_str(),
                 server.url().c_str());
    loader = std::thread([&] {
      try {
        std::unique_ptr<Model> model = Model::load(a.model);
        std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_gguf(model->file());
        EngineOptions pinned_eo = eo;
        pinned_eo.n_ctx = resolve_context(a.ctx_size, model->config());
        auto engine = std::make_unique<Engine>(std::move(model), std::move(tokenizer), pinned_eo,
                                               a.model_draft.empty() ? nullptr : Model::load(a.model_draft));
        ServedModel::Overrides overrides;
        if (!chat_template.empty()) overrides.template_text = chat_template;
        models.pin(name, std::move(engine), int64_t(std::time(nullptr)), std::move(overrides));
        const LoadedModel& pinned = *models.pinned();
        const double mib = 1048576.0;
        const size_t file = pinned.engine().model().file().file_size();
        std::fprintf(stderr,
                     "nagare: %s loaded, resident memory %.1f MiB (model file %.1f MiB; KV cache of %.1f MiB, resident "
                     "as it fills)\n",
                     name.c_str(), resident_bytes() / mib, file / mib, (pinned.size_bytes() - file) / mib);
        if (state.phase() == ServingState::Phase::kLoading) ready();
      } catch (const std::exception& e) {
        load_error = e.what();
        server.stop();
      }
    });
  }
  server.run();
  if (loader.joinable()) loader.join();
  if (!load_error.empty()) {
    models.shutdown();
    throw Error(load_error);
  }
  std::fprintf(stderr, "nagare: shutting down\n");
  // The engines go first, so their threads stop notifying. Connections the server still holds
  // are dropped with it at the end of this scope; they then only cancel their streams and give
  // back their leases, touching no engine.
  models.shutdown();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("serve", "Serve the model store (or a model file) over OpenAI- and Ollama-compatible HTTP APIs");
  static ServeArgs a;
  cmd->add_option("-m,--model", a.model, "Path to a .gguf file, served as well and never unloaded (default: serve the model store only)");
  cmd->add_flag("--store", a.store, "With -m: serve the model store too");
  cmd->add_flag("--no-webui", a.no_webui, "Serve no web chat at / nor dashboard at /dashboard");
  cmd->add_option("--keep-alive", a.keep_alive, "How long a store model stays loaded after its last request: a Go duration (\"5m\", \"1h\") or seconds; 0: unload at once; negative: forever (default: 5m)");
  cmd->add_option("--max-loaded-models", a.max_loaded, "Store models loaded at once; the least recently used idle one unloads first")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--memory-budget", a.memory_budget_mib, "MiB all loaded models may take (weights + KV cache; default: the machine's memory)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  add_http_flags(cmd, a.http);
  cmd->add_option("-c,--ctx-size", a.ctx_size,
                  "Most tokens (prompt + output) of one request; 0: the model's training context (default: min(4096, "
                  "that))")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--kv-cache-size", a.kv_cache_mib, "KV cache size in MiB (default: room for max(ctx-size, 4 x 2048) tokens)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_option("--max-batch-tokens", a.max_batch_tokens, "Tokens per forward step (decodes + prefill chunks)")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd->add_option("--max-running", a.max_running, "Sequences decoding at once")
      ->check(CLI::Range(1, 1 << 16))->capture_default_str();
  cmd->add_option("-t,--threads", a.threads, "Compute threads (default: physical cores)")->check(CLI::Range(0, 4096));
  cmd->add_option("--draft-max", a.draft_max,
                  "Speculative tokens per decoding request, drafted by prompt lookup and checked in the same step; "
                  "output is unchanged (0: off)")
      ->check(CLI::Range(0, 64))->capture_default_str();
  cmd->add_option("--model-draft", a.model_draft,
                  "A smaller .gguf with the -m model's vocabulary that drafts speculative tokens where prompt lookup "
                  "finds none; output is unchanged")
      ->check(CLI::ExistingFile);
  cmd->add_option("--draft-step-tokens", a.draft_step_tokens,
                  "Drafts go only into steps of at most this many tokens (a busier step has no compute to spare)")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  cmd->add_option("--audit", a.audit,
                  "Where the audit log goes: sqlite:PATH, jsonl:PATH or PATH (SQLite; default $NAGARE_AUDIT_DB, else "
                  "~/.nagare/audit.db); read it with nagare logs");
  cmd->add_flag("--no-audit", a.no_audit, "Keep no audit log");
  cmd->add_flag("--audit-redact", a.audit_redact, "Log counts and timings, not the messages and answers");
  cmd->add_option("--audit-flush-ms", a.audit_flush_ms, "A finished request is in the audit log within this time")
      ->check(CLI::Range(10, 600000))
      ->capture_default_str();
  cmd->add_option("--ssl-cert-file", a.ssl_cert_file, "Serve HTTPS with this PEM certificate (chain); needs --ssl-key-file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--ssl-key-file", a.ssl_key_file, "The PEM private key of --ssl-cert-file")->check(CLI::ExistingFile);
  cmd->add_option("--cache-size", a.cache_mib,
                  "MiB of answers to deterministic requests (temperature 0 or a seed) kept to answer repeats (0: off)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 20))
      ->capture_default_str();
  cmd->add_option("--cache", a.cache_url,
                  "Keep the response cache in Redis, shared between replicas: redis://HOST[:PORT][/DB] (default: in this "
                  "process, --cache-size)");
  cmd->add_option("--cache-ttl", a.cache_ttl_s, "Seconds a cached answer is kept")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40))
      ->capture_default_str();
  cmd->add_option("--max-queue", a.max_queue,
                  "Requests that may wait for a model's engine; beyond, 503 with Retry-After (0: no bound)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--request-timeout", a.request_timeout_s,
                  "Seconds a request may take from arrival to its last token; then it ends with finish_reason "
                  "\"timeout\" (0: no deadline)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--alias", a.alias, "Model name in the API (default: the file name without .gguf)");
  cmd->add_option("--chat-template-file", a.chat_template_file,
                  "A Jinja chat template replacing the -m model's own (as llama-server's flag)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--no-prefix-cache", a.no_prefix_cache, "Do not reuse the KV cache of common prompt prefixes");
  a.kv_types.add(cmd);
  cmd->add_flag("--swa-full", a.swa_full,
                "Keep every position of sliding-window layers (as llama.cpp's flag): more memory per sequence, "
                "prefixes reusable without their window cached");
  cmd->add_flag("--embedding,--embeddings", a.embeddings,
                "Accepted for llama-server's command lines: /v1/embeddings, /api/embed and /api/embeddings are served "
                "with or without it");
  cmd->add_option("--pooling", a.pooling,
                  "Embedding pooling for every model: mean, cls (first token), last or none (one vector per token, "
                  "which the embedding endpoints refuse); default: the GGUF's pooling_type, else mean")
      ->check(CLI::IsMember({"mean", "cls", "last", "none"}));
  cmd->callback([&action] { action = [] { return run_serve(a); }; });
}

}  // namespace nagare
