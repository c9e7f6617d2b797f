// AuditLog: one row per request — when, who (user, key label, client address), what (route,
// model, the messages or prompt), what came back (the response text, token counts, TTFT,
// latency, status, finish reason) — in SQLite (WAL mode; schema in docs/operations.md) or as JSON
// lines. Rows are queued by a router observer and written by a thread of their own in one
// transaction per batch, so requests never wait on the disk: a batch is committed at most half a
// flush interval after its first row arrived, so a row whose response ended more than one flush
// interval ago has been committed, and survives a kill -9. A failed write (a full disk) drops
// that batch, says so on stderr once per failure streak, and counts the rows; requests go on.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/request_record.h"

namespace nagare {

struct AuditOptions {
  enum class Format { kSqlite, kJsonLines };
  Format format = Format::kSqlite;
  std::string path;
  bool redact = false;  // keep counts and timings, not the texts
  std::chrono::milliseconds flush_interval{1000};
  size_t max_queued = 100000;  // rows waiting to be written; beyond it new rows are dropped (and counted)
};

// "sqlite:PATH", "jsonl:PATH", or a PATH (SQLite). Throws Error for an empty path.
AuditOptions parse_audit_target(const std::string& spec);
// ~/.nagare/audit.db, or $NAGARE_AUDIT_DB.
std::string default_audit_path();

class AuditLog {
 public:
  // Opens (creating it and its schema if need be) and checks that it can be written: throws
  // Error with the reason otherwise, so the server refuses to start. `dropped` (may be null) is
  // told how many rows each failed write lost.
  AuditLog(AuditOptions options, std::function<void(uint64_t)> dropped = nullptr);
  ~AuditLog();  // writes what is queued, then closes
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues the row of one finished request; never blocks on the disk. /health and /metrics are
  // not logged.
  void add(const RequestRecord& record);
  // Writes everything queued now (tests, shutdown).
  void flush();

  struct Row;
  class Sink;

 private:
  void run();

  AuditOptions options_;
  std::function<void(uint64_t)> dropped_;
  std::unique_ptr<Sink> sink_;
  std::mutex mu_;
  std::condition_variable wake_, flushed_;
  std::deque<Row> queue_;
  uint64_t enqueued_ = 0, written_ = 0;  // rows; flush() waits for written_ to catch up
  bool stopping_ = false;
  bool flush_now_ = false;
  uint64_t streak_dropped_ = 0;  // rows lost since writes started failing (logged at start and end)
  std::thread writer_;
};

}  // namespace nagare
