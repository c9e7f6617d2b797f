#include "ops/audit_log.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace nagare {

struct AuditLog::Row {
  std::string time, user, key_id, client, method, path, route, api, model, finish_reason;
  bool generation = false, stream = false, client_gone = false;
  int status = 0;
  int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  double ttft_ms = -1, latency_ms = 0;
  std::optional<std::string> request, response;  // nullopt: redacted (or not a generation)
};

namespace {

std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t s = std::time_t(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[48];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", int(ms % 1000));
  return buf;
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS requests (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  user TEXT NOT NULL,
  key_id TEXT NOT NULL,
  client TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  route TEXT NOT NULL,
  api TEXT NOT NULL,
  model TEXT NOT NULL,
  stream INTEGER NOT NULL,
  status INTEGER NOT NULL,
  finish_reason TEXT,
  client_gone INTEGER NOT NULL,
  prompt_tokens INTEGER,
  cached_tokens INTEGER,
  completion_tokens INTEGER,
  ttft_ms REAL,
  latency_ms REAL NOT NULL,
  request TEXT,
  response TEXT
);
CREATE INDEX IF NOT EXISTS requests_time ON requests(time);
CREATE INDEX IF NOT EXISTS requests_user_time ON requests(user, time);
PRAGMA user_version = 1;
)sql";

}  // namespace

class AuditLog::Sink {
 public:
  virtual ~Sink() = default;
  // Writes the rows all or none; throws Error with the reason.
  virtual void write(const std::vector<Row>& rows) = 0;
};

namespace {

using Row = AuditLog::Row;

class SqliteSink : public AuditLog::Sink {
 public:
  explicit SqliteSink(const std::string& path) : path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw Error(path + ": cannot open the audit database: " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    // WAL: readers (nagare logs) never block the writer; NORMAL sync: a committed transaction
    // survives the process being killed (not a power cut, which FULL would add at a cost).
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec(kSchema);
    exec("BEGIN IMMEDIATE");  // proves the file is writable now, not at the first request
    exec("COMMIT");
    const char* insert =
        "INSERT INTO requests (time, user, key_id, client, method, path, route, api, model, stream, status, "
        "finish_reason, client_gone, prompt_tokens, cached_tokens, completion_tokens, ttft_ms, latency_ms, request, "
        "response) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)";
    if (sqlite3_prepare_v2(db_, insert, -1, &insert_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~SqliteSink() override {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }

  void write(const std::vector<Row>& rows) override {
    exec("BEGIN");
    try {
      for (const Row& r : rows) insert(r);
      exec("COMMIT");
    } catch (const Error&) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw Error(path_ + ": audit database: " + what + ": " + sqlite3_errmsg(db_));
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string why = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      throw Error(path_ + ": audit database: " + why);
    }
  }
  void text(int i, const std::string& s) { sqlite3_bind_text(insert_, i, s.data(), int(s.size()), SQLITE_TRANSIENT); }
  void insert(const Row& r) {
    sqlite3_reset(insert_);
    sqlite3_clear_bindings(insert_);
    text(1, r.time);
    text(2, r.user);
    text(3, r.key_id);
    text(4, r.client);
    text(5, r.method);
    text(6, r.path);
    text(7, r.route);
    text(8, r.api);
    text(9, r.model);
    sqlite3_bind_int(insert_, 10, r.stream);
    sqlite3_bind_int(insert_, 11, r.status);
    if (!r.finish_reason.empty()) text(12, r.finish_reason);
    sqlite3_bind_int(insert_, 13, r.client_gone);
    if (r.generation) {
      sqlite3_bind_int64(insert_, 14, r.prompt_tokens);
      sqlite3_bind_int64(insert_, 15, r.cached_tokens);
      sqlite3_bind_int64(insert_, 16, r.completion_tokens);
    }
    if (r.ttft_ms >= 0) sqlite3_bind_double(insert_, 17, r.ttft_ms);
    sqlite3_bind_double(insert_, 18, r.latency_ms);
    if (r.request) text(19, *r.request);
    if (r.response) text(20, *r.response);
    if (sqlite3_step(insert_) != SQLITE_DONE) fail("insert");
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

class JsonLinesSink : public AuditLog::Sink {
 public:
  explicit JsonLinesSink(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) throw Error(path + ": cannot open the audit log: " + std::strerror(errno));
  }
  ~JsonLinesSink() override { ::close(fd_); }

  void write(const std::vector<Row>& rows) override {
    std::string out;
    for (const Row& r : rows) {
      nlohmann::ordered_json j;
      j["time"] = r.time;
      j["user"] = r.user;
      j["key_id"] = r.key_id;
      j["client"] = r.client;
      j["method"] = r.method;
      j["path"] = r.path;
      j["route"] = r.route;
      j["api"] = r.api;
      j["model"] = r.model;
      j["stream"] = r.stream;
      j["status"] = r.status;
      j["finish_reason"] = r.finish_reason.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(r.finish_reason);
      j["client_gone"] = r.client_gone;
      if (r.generation) {
        j["prompt_tokens"] = r.prompt_tokens;
        j["cached_tokens"] = r.cached_tokens;
        j["completion_tokens"] = r.completion_tokens;
      }
      j["ttft_ms"] = r.ttft_ms >= 0 ? nlohmann::ordered_json(r.ttft_ms) : nlohmann::ordered_json();
      j["latency_ms"] = r.latency_ms;
      j["request"] = r.request ? nlohmann::ordered_json(*r.request) : nlohmann::ordered_json();
      j["response"] = r.response ? nlohmann::ordered_json(*r.response) : nlohmann::ordered_json();
      out += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    }
    // One write per batch: lines are whole or missing, never interleaved.
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string why = n < 0 ? std::strerror(errno) : "nothing written";
        if (done > 0) {  // take back the part of the batch that was written: no half line stays
          const off_t end = ::lseek(fd_, 0, SEEK_END);
          if (end >= off_t(done)) (void)!::ftruncate(fd_, end - off_t(done));
        }
        throw Error(path_ + ": audit log: " + why);
      }
      done += size_t(n);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

AuditOptions parse_audit_target(const std::string& spec) {
  AuditOptions o;
  std::string path = spec;
  if (spec.rfind("sqlite:", 0) == 0) {
    path = spec.substr(7);
  } else if (spec.rfind("jsonl:", 0) == 0) {
    o.format = AuditOptions::Format::kJsonLines;
    path = spec.substr(6);
  }
  if (path.empty()) throw Error("--audit: give sqlite:PATH, jsonl:PATH or a PATH");
  o.path = path;
  return o;
}

std::string default_audit_path() {
  if (const char* p = std::getenv("NAGARE_AUDIT_DB"); p && *p) return p;
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw Error("HOME is not set: give the audit database with --audit PATH");
  return std::string(home) + "/.nagare/audit.db";
}

AuditLog::AuditLog(AuditOptions options, std::function<void(uint64_t)> dropped)
    : options_(std::move(options)), dropped_(std::move(dropped)) {
  if (options_.format == AuditOptions::Format::kSqlite) sink_ = std::make_unique<SqliteSink>(options_.path);
  else sink_ = std::make_unique<JsonLinesSink>(options_.path);
  writer_ = std::thread([this] { run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

void AuditLog::add(const RequestRecord& r) {
  if (r.path == "/health" || r.path == "/metrics") return;
  Row row;
  row.time = rfc3339_ms(r.received_at);
  row.user = r.user;
  row.key_id = r.key_id;
  row.client = r.remote;
  row.method = r.method;
  row.path = r.path;
  row.route = r.route;
  row.api = r.api;
  row.model = r.model;
  row.stream = r.stream;
  row.status = r.status;
  row.finish_reason = r.finish_reason;
  row.client_gone = r.client_gone;
  row.generation = r.generation;
  row.prompt_tokens = r.prompt_tokens;
  row.cached_tokens = r.cached_tokens;
  row.completion_tokens = r.completion_tokens;
  row.ttft_ms = r.ttft_s >= 0 ? r.ttft_s * 1000 : -1;
  row.latency_ms = r.latency_s * 1000;
  if (!options_.redact && !r.request_text.empty()) row.request = r.request_text;
  if (!options_.redact && r.generation) row.response = r.response_text;
  {
    std::lock_guard lk(mu_);
    if (queue_.size() >= options_.max_queued) {
      if (dropped_) dropped_(1);
      return;
    }
    queue_.push_back(std::move(row));
    ++enqueued_;
  }
}

void AuditLog::flush() {
  std::unique_lock lk(mu_);
  const uint64_t target = enqueued_;
  flush_now_ = true;
  wake_.notify_all();
  flushed_.wait(lk, [&] { return written_ >= target || stopping_; });
}

void AuditLog::run() {
  // A batch goes out every half interval, so a row waits at most that long (plus the write).
  const auto period = options_.flush_interval / 2;
  std::unique_lock lk(mu_);
  for (;;) {
    wake_.wait_for(lk, period, [&] { return stopping_ || flush_now_ || queue_.size() >= 4096; });
    flush_now_ = false;
    std::vector<Row> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    const bool stop = stopping_;
    if (!batch.empty()) {
      lk.unlock();
      std::string error;
      try {
        sink_->write(batch);
      } catch (const std::exception& e) {
        error = e.what();
      }
      lk.lock();
      if (!error.empty()) {
        if (streak_dropped_ == 0)
          std::fprintf(stderr, "nagare: audit log: %zu rows not written (requests go on; counted in /metrics): %s\n",
                       batch.size(), error.c_str());
        streak_dropped_ += batch.size();
        if (dropped_) dropped_(batch.size());
      } else if (streak_dropped_ > 0) {
        std::fprintf(stderr, "nagare: audit log: writing again; %llu rows were not written\n",
                     static_cast<unsigned long long>(streak_dropped_));
        streak_dropped_ = 0;
      }
      written_ += batch.size();
      flushed_.notify_all();
    }
    if (stop) break;
  }
  flushed_.notify_all();
}

}  // namespace nagare
