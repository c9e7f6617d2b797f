// `nagare logs`: reads the audit log a server writes (SQLite; see docs/operations.md) — the
// requests, filtered by user, model and time, as a table or JSON lines; or with --stats, requests
// and tokens per user. Opens the database read-only, so it runs beside a live server.
#include <sqlite3.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "ops/audit_log.h"
#include "util/error.h"

namespace nagare {
namespace {

struct LogsArgs {
  std::string db, user, model, since, until;
  bool json = false, stats = false;
  int64_t limit = 0;
};

// A time as the audit log writes it ("2026-12-06T10:00:00.000Z"): from RFC 3339 or a date
// ("2026-12-06", "2026-12-06 10:00") in UTC, or a duration ago ("90s", "15m", "2h", "3d").
std::string parse_time(const std::string& text, const char* flag) {
  auto fail = [&] {
    return Error(std::string(flag) + ": '" + text + "' is not a time: give 2026-12-06T10:00:00Z, 2026-12-06, or 15m / 2h / 3d ago");
  };
  if (text.empty()) throw fail();
  const char unit = text.back();
  if (unit == 's' || unit == 'm' || unit == 'h' || unit == 'd') {
    char* end = nullptr;
    const double n = std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() - 1 && n >= 0) {
      const double per = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
      const std::time_t t = std::time(nullptr) - std::time_t(n * per);
      std::tm tm{};
      gmtime_r(&t, &tm);
      char buf[40];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
      return buf;
    }
  }
  for (const char* fmt : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* rest = ::strptime(text.c_str(), fmt, &tm);
    if (!rest) continue;
    if (*rest == '.')
      while (*++rest >= '0' && *rest <= '9') {
      }
    if (*rest == 'Z') ++rest;
    if (*rest != '\0') continue;
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return buf;
  }
  throw fail();
}

class Db {
 public:
  explicit Db(const std::string& path) : path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error(path + ": cannot open the audit database: " + why + " (--db says where; the server writes " +
                  default_audit_path() + " unless given --audit)");
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close(db_); }

  sqlite3_stmt* prepare(const std::string& sql, const std::vector<std::string>& args) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw Error(path_ + ": " + sqlite3_errmsg(db_) + " (is this a nagare audit database?)");
    for (size_t i = 0; i < args.size(); ++i) sqlite3_bind_text(st, int(i + 1), args[i].c_str(), -1, SQLITE_TRANSIENT);
    return st;
  }
  bool step(sqlite3_stmt* st) {
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(path_ + ": " + sqlite3_errmsg(db_));
  }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

std::string column_text(sqlite3_stmt* st, int i) {
  const unsigned char* t = sqlite3_column_text(st, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

nlohmann::ordered_json column_json(sqlite3_stmt* st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: return nullptr;
    case SQLITE_INTEGER: return sqlite3_column_int64(st, i);
    case SQLITE_FLOAT: return sqlite3_column_double(st, i);
    default: return column_text(st, i);
  }
}

int run_logs(const LogsArgs& a) {
  Db db(a.db.empty() ? default_audit_path() : a.db);
  std::string where = " WHERE 1=1";
  std::vector<std::string> args;
  auto filter = [&](const char* clause, const std::string& v) {
    where += clause;
    args.push_back(v);
  };
  if (!a.user.empty()) filter(" AND user = ?" , a.user);
  if (!a.model.empty()) filter(" AND model = ?", a.model);
  if (!a.since.empty()) filter(" AND time >= ?", parse_time(a.since, "--since"));
  if (!a.until.empty()) filter(" AND time < ?", parse_time(a.until, "--until"));

  if (a.stats) {
    sqlite3_stmt* st = db.prepare(
        "SELECT user, COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
        "SUM(status >= 400), MIN(time), MAX(time) FROM requests" + where + " GROUP BY user ORDER BY user",
        args);
    if (!a.json) std::printf("%-16s  %8s  %13s  %17s  %6s  %-24s  %s\n", "USER", "REQUESTS", "PROMPT_TOKENS",
                             "COMPLETION_TOKENS", "ERRORS", "FIRST", "LAST");
    while (db.step(st)) {
      const std::string user = column_text(st, 0);
      if (a.json) {
        nlohmann::ordered_json j;
        j["user"] = user;
        j["requests"] = sqlite3_column_int64(st, 1);
        j["prompt_tokens"] = sqlite3_column_int64(st, 2);
        j["completion_tokens"] = sqlite3_column_int64(st, 3);
        j["errors"] = sqlite3_column_int64(st, 4);
        j["first"] = column_text(st, 5);
        j["last"] = column_text(st, 6);
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("%-16s  %8lld  %13lld  %17lld  %6lld  %-24s  %s\n", user.empty() ? "-" : user.c_str(),
                    static_cast<long long>(sqlite3_column_int64(st, 1)), static_cast<long long>(sqlite3_column_int64(st, 2)),
                    static_cast<long long>(sqlite3_column_int64(st, 3)), static_cast<long long>(sqlite3_column_int64(st, 4)),
                    column_text(st, 5).c_str(), column_text(st, 6).c_str());
      }
    }
    sqlite3_finalize(st);
    return 0;
  }

  // The newest `limit` rows, shown oldest first.
  std::string sql = "SELECT * FROM requests" + where + " ORDER BY id DESC";
  if (a.limit > 0) sql += " LIMIT " + std::to_string(a.limit);
  sql = "SELECT * FROM (" + sql + ") ORDER BY id";
  sqlite3_stmt* st = db.prepare(sql, args);
  if (!a.json)
    std::printf("%-24s  %-12s  %-15s  %-22s  %-22s  %6s  %-9s  %13s  %9s\n", "TIME", "USER", "CLIENT", "ROUTE", "MODEL",
                "STATUS", "FINISH", "TOKENS(P/C)", "LATENCY");
  while (db.step(st)) {
    if (a.json) {
      nlohmann::ordered_json j;
      for (int i = 0; i < sqlite3_column_count(st); ++i) j[sqlite3_column_name(st, i)] = column_json(st, i);
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
      continue;
    }
    nlohmann::ordered_json j;
    for (int i = 0; i < sqlite3_column_count(st); ++i) j[sqlite3_column_name(st, i)] = column_json(st, i);
    auto s = [&](const char* k) { return j[k].is_string() ? j[k].get<std::string>() : std::string("-"); };
    const std::string tokens = j["prompt_tokens"].is_null()
                                   ? "-"
                                   : std::to_string(j["prompt_tokens"].get<int64_t>()) + "/" +
                                         std::to_string(j["completion_tokens"].get<int64_t>());
    char latency[32];
    std::snprintf(latency, sizeof latency, "%.0f ms", j["latency_ms"].is_number() ? j["latency_ms"].get<double>() : 0.0);
    std::printf("%-24s  %-12s  %-15s  %-22s  %-22s  %6lld  %-9s  %13s  %9s\n", s("time").c_str(),
                s("user").empty() ? "-" : s("user").c_str(), s("client").c_str(), s("route").empty() ? s("path").c_str() : s("route").c_str(),
                s("model").empty() ? "-" : s("model").c_str(), static_cast<long long>(j["status"].get<int64_t>()),
                s("finish_reason").c_str(), tokens.c_str(), latency);
  }
  sqlite3_finalize(st);
  return 0;
}

}  // namespace

void add_logs_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("logs", "Read the audit log a server writes (requests, users, tokens)");
  static LogsArgs a;
  cmd->add_option("--db", a.db, "The audit database (default: $NAGARE_AUDIT_DB, else ~/.nagare/audit.db)");
  cmd->add_option("--user", a.user, "Only this user's requests");
  cmd->add_option("--model", a.model, "Only requests for this model (as served: smollm2:latest)");
  cmd->add_option("--since", a.since, "From this time: 2026-12-06T10:00:00Z, 2026-12-06, or 15m / 2h / 3d ago");
  cmd->add_option("--until", a.until, "Before this time (same forms)");
  cmd->add_option("-n,--limit", a.limit, "Only the newest N requests")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", a.json, "JSON lines with every field, texts included");
  cmd->add_flag("--stats", a.stats, "Requests, tokens and errors per user");
  cmd->callback([&action] { action = [] { return run_logs(a); }; });
}

}  // namespace nagare
