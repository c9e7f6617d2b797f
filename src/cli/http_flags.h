// The flags of an HTTP listener, shared by `serve` and `router`: address, limits, drain time, API
// keys and CORS, and how they become ServerOptions and the router's middleware.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/access_control.h"
#include "server/http_server.h"
#include "server/serving_state.h"

namespace nagare {

struct HttpFlags {
  std::string host = "127.0.0.1";
  int port = 8080;
  int io_threads = 2;
  int64_t max_request_mib = 8;
  int timeout_s = 60;
  int max_connections = 1024;
  double shutdown_timeout_s = 30;
  std::vector<std::string> api_keys;
  std::string api_keys_file;
  std::vector<std::string> cors_origins;
};

void add_http_flags(CLI::App* cmd, HttpFlags& flags);

// The listener's options (TLS left to the caller).
ServerOptions server_options(const HttpFlags& flags, ServingState& state);

// The key check, or null without keys. Built before anything else, so a bad keys file stops the
// start at once.
std::unique_ptr<AccessControl> make_access_control(const HttpFlags& flags);

// CORS first (preflights carry no key), then the key check, reloaded on SIGHUP.
void install_http_middleware(Router& router, HttpServer& server, const HttpFlags& flags, AccessControl* access);

}  // namespace nagare
