// `nagare ps`: the models a running server has loaded — NAME, ID, SIZE, PROCESSOR, CONTEXT,
// UNTIL — as `ollama ps` shows them, read from the server's GET /api/ps.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/pull_progress.h"
#include "store/file_util.h"
#include "store/http_client.h"
#include "util/error.h"

namespace nagare {
namespace {

// Seconds since 1970 of an RFC 3339 time ("2026-12-06T10:00:00Z", fractions and a ±hh:mm offset
// allowed); nullopt when it is not one.
std::optional<int64_t> parse_rfc3339(const std::string& s) {
  std::tm tm{};
  const char* rest = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  int64_t t = int64_t(::timegm(&tm));
  if (*rest == '.')
    while (*++rest >= '0' && *rest <= '9') {
    }
  if (*rest == 'Z' || *rest == '\0') return t;
  int hh = 0, mm = 0;
  if ((*rest == '+' || *rest == '-') && std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) == 2)
    return *rest == '+' ? t - (hh * 3600 + mm * 60) : t + (hh * 3600 + mm * 60);
  return std::nullopt;
}

std::string until_text(const nlohmann::json& m) {
  const std::string at = m.value("expires_at", "");
  auto t = parse_rfc3339(at);
  if (!t) return at;
  const int64_t now = int64_t(std::time(nullptr));
  if (*t - now > 100LL * 365 * 86400) return "Forever";
  if (*t <= now) return "Stopping...";
  return time_from_now(*t);
}

std::string server_url(std::string host) {
  if (host.find("://") == std::string::npos) host = "http://" + host;
  while (!host.empty() && host.back() == '/') host.pop_back();
  return host;
}

int run_ps(const std::string& host) {
  const std::string url = server_url(host) + "/api/ps";
  HttpResult r = http_get(url, {}, 16u << 20);
  if (r.status == 0)
    throw Error("cannot reach a nagare server at " + server_url(host) + ": " + r.error +
                " (is `nagare serve` running? --host or NAGARE_HOST says where)");
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200) {
    std::string why = j.is_object() && j.contains("error") ? j["error"].dump() : r.body.substr(0, 200);
    throw Error(url + " answered " + std::to_string(r.status) + ": " + why);
  }
  if (!j.is_object() || !j.contains("models") || !j["models"].is_array())
    throw Error(url + " did not answer with a model list");
  struct Row {
    std::string name, id, size, processor, context, until;
  };
  std::vector<Row> rows;
  size_t width = 4;
  for (const auto& m : j["models"]) {
    if (!m.is_object()) continue;
    Row row;
    row.name = m.value("name", "");
    row.id = short_id(m.value("digest", ""));
    row.size = format_bytes(m.value("size", uint64_t(0)));
    row.processor = "100% CPU";
    row.context = m.contains("context_length") ? m["context_length"].dump() : "";
    row.until = until_text(m);
    width = std::max(width, row.name.size());
    rows.push_back(std::move(row));
  }
  std::printf("%-*s  %-12s  %-9s  %-9s  %-7s  %s\n", int(width), "NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL");
  for (const Row& r : rows)
    std::printf("%-*s  %-12s  %-9s  %-9s  %-7s  %s\n", int(width), r.name.c_str(), r.id.c_str(), r.size.c_str(),
                r.processor.c_str(), r.context.c_str(), r.until.c_str());
  return 0;
}

}  // namespace

void add_ps_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("ps", "List the models a running nagare server has loaded");
  static std::string host;
  cmd->add_option("--host", host, "The server (default: $NAGARE_HOST, else 127.0.0.1:8080)");
  cmd->callback([&action] {
    action = [] {
      std::string h = host;
      if (h.empty()) {
        const char* env = std::getenv("NAGARE_HOST");
        h = env && *env ? env : "127.0.0.1:8080";
      }
      return run_ps(h);
    };
  });
}

}  // namespace nagare
