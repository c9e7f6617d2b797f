#include "cli/http_flags.h"

#include <cstdio>

#include "ops/cors.h"

namespace nagare {

void add_http_flags(CLI::App* cmd, HttpFlags& f) {
  cmd->add_option("--host", f.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", f.port, "Port to listen on (0: any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--api-key", f.api_keys, "A key clients must send as 'Authorization: Bearer KEY' (repeatable; user 'default')");
  cmd->add_option("--api-keys", f.api_keys_file,
                  "Keys file: TOML ([[keys]]) when it ends in .toml, else JSON lines; each entry: key or sha256, user, "
                  "requests_per_minute, tokens_per_minute, models (see docs/operations.md); SIGHUP reloads it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--cors-origin", f.cors_origins,
                  "Let browser pages from this origin call the API (repeatable; * for any; default: none)");
  cmd->add_option("--max-connections", f.max_connections, "Open connections at most; beyond, 503 and close (0: no limit)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--shutdown-timeout", f.shutdown_timeout_s,
                  "Seconds running requests may take to finish after SIGINT / SIGTERM (a second signal stops at once)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--io-threads", f.io_threads, "HTTP I/O threads")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--max-request-size", f.max_request_mib, "Largest request body in MiB (larger: 413)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20))->capture_default_str();
  cmd->add_option("--timeout", f.timeout_s, "Seconds to read a request or write a response chunk before closing")
      ->check(CLI::Range(1, 86400))->capture_default_str();
}

ServerOptions server_options(const HttpFlags& f, ServingState& state) {
  ServerOptions so;
  so.host = f.host;
  so.port = static_cast<uint16_t>(f.port);
  so.io_threads = f.io_threads;
  so.limits.max_body_bytes = static_cast<size_t>(f.max_request_mib) << 20;
  so.limits.read_timeout = so.limits.write_timeout = std::chrono::seconds(f.timeout_s);
  so.max_connections = f.max_connections;
  so.shutdown_timeout = std::chrono::milliseconds(int64_t(f.shutdown_timeout_s * 1000));
  so.state = &state;
  return so;
}

std::unique_ptr<AccessControl> make_access_control(const HttpFlags& f) {
  if (f.api_keys.empty() && f.api_keys_file.empty()) return nullptr;
  return std::make_unique<AccessControl>(f.api_keys, f.api_keys_file);
}

void install_http_middleware(Router& router, HttpServer& server, const HttpFlags& f, AccessControl* access) {
  if (!f.cors_origins.empty()) install_cors(router, f.cors_origins);
  if (!access) return;
  access->install(router);
  server.on_reload([access] { access->reload(); });
  std::fprintf(stderr, "nagare: API keys required (%zu keys; SIGHUP reloads %s)\n", access->keys(),
               f.api_keys_file.empty() ? "nothing: no --api-keys file" : f.api_keys_file.c_str());
}

}  // namespace nagare
