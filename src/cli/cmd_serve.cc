// `nagare serve -m MODEL`: loads one model into an Engine and serves the OpenAI- and
// Ollama-compatible APIs over HTTP until SIGINT / SIGTERM.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "api/served_model.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "model/model.h"
#include "server/http_server.h"
#include "server/ollama_routes.h"
#include "server/openai_routes.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/process_memory.h"

namespace nagare {
namespace {

struct ServeArgs {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int32_t ctx_size = 0;  // 0: min(4096, the model's training context)
  int64_t kv_cache_mib = 0;
  int32_t max_batch_tokens = EngineOptions{}.max_batch_tokens;
  int32_t max_running = EngineOptions{}.max_running;
  int32_t threads = 0;
  std::string alias;
  bool no_prefix_cache = false;
  int io_threads = 2;
  int64_t max_request_mib = 8;
  int timeout_s = 60;
};

std::string served_name(const ServeArgs& a) {
  if (!a.alias.empty()) return a.alias;
  const std::filesystem::path p(a.model);
  return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

int run_serve(const ServeArgs& a) {
  const std::string name = served_name(a);
  // Bind first: a port in use fails at once, not after loading a large model.
  Router router;
  ServerOptions so;
  so.host = a.host;
  so.port = static_cast<uint16_t>(a.port);
  so.io_threads = a.io_threads;
  so.limits.max_body_bytes = static_cast<size_t>(a.max_request_mib) << 20;
  so.limits.read_timeout = so.limits.write_timeout = std::chrono::seconds(a.timeout_s);
  HttpServer server(router, so);

  std::fprintf(stderr, "nagare: loading %s\n", a.model.c_str());
  std::unique_ptr<Model> model = Model::load(a.model);
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_gguf(model->file());

  EngineOptions eo;
  const int32_t train_ctx = model->config().n_ctx_train;
  eo.n_ctx = a.ctx_size > 0 ? a.ctx_size : (train_ctx > 0 ? std::min<int32_t>(4096, train_ctx) : 4096);
  eo.kv_cache_bytes = static_cast<size_t>(a.kv_cache_mib) << 20;
  eo.max_batch_tokens = a.max_batch_tokens;
  eo.max_running = a.max_running;
  eo.prefix_cache = !a.no_prefix_cache;
  eo.threads = a.threads;
  auto engine = std::make_unique<Engine>(std::move(model), std::move(tokenizer), eo);
  ServedModel served(name, *engine, int64_t(std::time(nullptr)));
  {
    const double mib = 1048576.0;
    const size_t kv_bytes = size_t(engine->stats().kv_blocks_total) * engine->options().block_size *
                            KvCache::bytes_per_token(engine->model().config());
    std::fprintf(stderr, "nagare: %s loaded, resident memory %.1f MiB (model file %.1f MiB, KV cache %.1f MiB)\n",
                 name.c_str(), resident_bytes() / mib, engine->model().file().file_size() / mib, kv_bytes / mib);
  }

  add_service_routes(router, served);
  add_openai_routes(router, served);
  add_ollama_routes(router, served);
  std::printf("nagare: listening on %s (model %s)\n", server.url().c_str(), name.c_str());
  std::fflush(stdout);
  server.run();
  std::fprintf(stderr, "nagare: shutting down\n");
  // The engine goes first, so its thread stops notifying. Connections the server still holds
  // are dropped with it at the end of this scope; they then only cancel their streams,
  // touching neither the engine nor `served`.
  engine.reset();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  static ServeArgs a;
  cmd->add_option("-m,--model", a.model, "Path to a .gguf file")->required();
  cmd->add_option("--host", a.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", a.port, "Port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("-c,--ctx-size", a.ctx_size, "Most tokens (prompt + output) of one request (default: min(4096, the model's training context))")
      ->check(CLI::Range(16, 1 << 24));
  cmd->add_option("--kv-cache-size", a.kv_cache_mib, "KV cache size in MiB (default: room for max(ctx-size, 4 x 2048) tokens)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_option("--max-batch-tokens", a.max_batch_tokens, "Tokens per forward step (decodes + prefill chunks)")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd->add_option("--max-running", a.max_running, "Sequences decoding at once")
      ->check(CLI::Range(1, 1 << 16))->capture_default_str();
  cmd->add_option("-t,--threads", a.threads, "Compute threads (default: physical cores)")->check(CLI::Range(0, 4096));
  cmd->add_option("--alias", a.alias, "Model name in the API (default: the file name without .gguf)");
  cmd->add_flag("--no-prefix-cache", a.no_prefix_cache, "Do not reuse the KV cache of common prompt prefixes");
  cmd->add_option("--io-threads", a.io_threads, "HTTP I/O threads")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--max-request-size", a.max_request_mib, "Largest request body in MiB (larger: 413)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  cmd->add_option("--timeout", a.timeout_s, "Seconds to read a request or write a response chunk before closing")
      ->check(CLI::Range(1, 86400))->capture_default_str();
  cmd->callback([&action] { action = [] { return run_serve(a); }; });
}

}  // namespace nagare
