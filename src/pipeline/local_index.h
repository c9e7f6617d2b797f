// The offline document index behind --search local:INDEX and `nagare index`: Markdown, text and
// HTML files under a directory, cut into passages in an SQLite FTS5 table (trigram tokenizer,
// so Japanese and other unspaced text is searchable) and ranked with BM25.
#pragma once

#include <functional>
#include <string>
#include <vector>

struct sqlite3;

namespace nagare {

struct IndexStats {
  int added = 0, updated = 0, unchanged = 0, removed = 0, skipped = 0;
  std::vector<std::string> skipped_files;  // "path: reason"
};

class LocalIndex {
 public:
  // Opens the SQLite file, creating it (and the schema) when `create`; throws Error naming the
  // file when it cannot, or when it is not a nagare index (another SQLite database, another
  // file, or an index of a newer format).
  LocalIndex(const std::string& path, bool create);
  ~LocalIndex();
  LocalIndex(const LocalIndex&) = delete;
  LocalIndex& operator=(const LocalIndex&) = delete;

  // Indexes every .md, .markdown, .txt, .html and .htm file under `dir` (recursively; hidden
  // files and directories skipped; symbolic links followed only to files inside `dir`), HTML
  // converted to Markdown with its charset detected. Re-reads only files whose size or mtime
  // changed, and removes the documents of files under `dir` that are gone (or now skipped);
  // documents indexed from other directories stay. Files over 20 MiB, binary or not text in a
  // known charset are skipped with a reason. One transaction: an error leaves the index as it
  // was. `progress` is called with each file's path as it is looked at.
  IndexStats add_directory(const std::string& dir, const std::function<void(const std::string& path)>& progress = {});

  struct Hit {
    std::string path, title, snippet, content;  // content: the whole document as Markdown
    double score;                               // BM25 of its best passage; higher is better
  };
  // The `count` best documents for the query, each once, ranked by its best passage; the
  // snippet is from that passage (~300 characters around the first term). No terms (an empty
  // query, only punctuation) gives no hits. See local_index_text.h for how terms are searched.
  std::vector<Hit> search(const std::string& query, int count) const;

  int document_count() const;
  const std::string& path() const { return path_; }

  static constexpr int kFormatVersion = 1;
  static constexpr long long kMaxFileBytes = 20ll << 20;

 private:
  void exec(const char* sql) const;
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace nagare
