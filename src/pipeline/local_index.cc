#include "pipeline/local_index.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "pipeline/charset.h"
#include "pipeline/html_to_markdown.h"
#include "pipeline/local_index_text.h"
#include "util/ascii.h"
#include "util/error.h"

namespace nagare {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormatName = "nagare-index";

// A document's passages take the consecutive rowids first_passage .. first_passage + passages - 1,
// so replacing a document deletes a rowid range (doc_id in the FTS table is not indexed).
constexpr const char* kSchema = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  content TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime INTEGER NOT NULL,
  first_passage INTEGER NOT NULL,
  passages INTEGER NOT NULL
);
CREATE VIRTUAL TABLE passages USING fts5(text, doc_id UNINDEXED, tokenize='trigram');
INSERT INTO meta (key, value) VALUES ('format', 'nagare-index'), ('version', '1'),
  ('passage_count', '0'), ('passage_chars', '0');
)sql";

// BM25's usual constants, as FTS5's bm25() uses them, so LIKE-matched terms score on its scale.
constexpr double kK1 = 1.2, kB = 0.75;

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& who, const std::string& sql) : db_(db), who_(who) {
    if (sqlite3_prepare_v2(db, sql.c_str(), int(sql.size()), &st_, nullptr) != SQLITE_OK)
      throw Error(who_ + ": " + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), int(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(who_ + ": " + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  double f64(int c) const { return sqlite3_column_double(st_, c); }
  std::string text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
    return p ? std::string(p, size_t(sqlite3_column_bytes(st_, c))) : std::string();
  }

 private:
  sqlite3* db_;
  std::string who_;
  sqlite3_stmt* st_ = nullptr;
};

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = ascii_lower(c);
  return ext;
}

bool indexable_extension(const fs::path& p) {
  const std::string ext = lower_extension(p);
  return ext == ".md" || ext == ".markdown" || ext == ".txt" || ext == ".html" || ext == ".htm";
}

bool has_utf16_bom(std::string_view b) {
  return b.size() >= 2 && ((b[0] == '\xFF' && b[1] == '\xFE') || (b[0] == '\xFE' && b[1] == '\xFF'));
}

std::string first_line(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    const size_t a = line.find_first_not_of(" \t\r");
    if (a != std::string_view::npos) return std::string(line.substr(a, line.find_last_not_of(" \t\r") - a + 1));
    pos = nl + 1;
  }
  return "";
}

// The first ATX heading's text ("# Title" -> "Title"), "" when the first lines have none.
std::string markdown_title(std::string_view md) {
  size_t pos = 0;
  for (int n = 0; n < 40 && pos < md.size(); ++n) {
    size_t nl = md.find('\n', pos);
    if (nl == std::string_view::npos) nl = md.size();
    std::string_view line = md.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] != '#') continue;
    line.remove_prefix(line.find_first_not_of('#') == std::string_view::npos ? line.size() : line.find_first_not_of('#'));
    const size_t a = line.find_first_not_of(" \t");
    if (a == std::string_view::npos) continue;
    return std::string(line.substr(a, line.find_last_not_of(" \t\r#") - a + 1));
  }
  return "";
}

struct Converted {
  std::string title, markdown;
};

// Japanese files often carry no charset declaration; detect_charset then says windows-1252.
// EUC-JP is tried first: Shift_JIS bytes are invalid EUC-JP, while EUC-JP bytes read as
// Shift_JIS half-width katakana without error. Taken when the decoding has no U+FFFD and some
// kana or kanji.
std::string japanese_charset(const std::string& bytes) {
  for (const char* charset : {"euc-jp", "shift_jis"}) {
    std::string text;
    try {
      text = to_utf8(bytes, charset);
    } catch (const Error&) {
      continue;
    }
    if (text.find("\xEF\xBF\xBD") != std::string::npos) continue;
    for (size_t i = 0; i < text.size();) {
      const uint32_t cp = next_code_point(text, i);
      if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF)) return charset;
    }
  }
  return "";
}

// Text, as opposed to binary data in a .txt: few undecodable bytes and control characters.
bool looks_like_text(std::string_view text) {
  size_t bad = 0, n = 0;
  for (size_t i = 0; i < text.size(); ++n) {
    const uint32_t cp = next_code_point(text, i);
    bad += cp == 0xFFFD || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r' && cp != '\f') || cp == 0x7F;
  }
  return bad * 50 <= n;  // at most 2%
}

// The file's bytes as UTF-8 text, or a reason to skip it in `why`.
std::string decode_text(const std::string& bytes, std::string& why) {
  if (!has_utf16_bom(bytes) && bytes.find('\0') != std::string::npos) {
    why = "binary file (NUL bytes)";
    return "";
  }
  std::string charset = detect_charset("", bytes);
  if (charset == "windows-1252")
    if (std::string ja = japanese_charset(bytes); !ja.empty()) charset = ja;
  std::string text;
  try {
    text = to_utf8(bytes, charset);
  } catch (const Error& e) {
    why = "cannot decode as " + charset + ": " + e.what();
    return "";
  }
  if (!looks_like_text(text)) why = "not text (undecodable bytes or control characters in " + charset + ")";
  return text;
}

// The document of one file, or a reason to skip it in `why`.
Converted convert_file(const fs::path& path, const std::string& bytes, std::string& why) {
  const std::string ext = lower_extension(path);
  const bool html = ext == ".html" || ext == ".htm";
  std::string text = decode_text(bytes, why);
  if (!why.empty()) return {};
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  Converted doc;
  if (html) {
    MarkdownPage page = html_to_markdown(text, "file://" + path.string());
    doc.title = std::move(page.title);
    doc.markdown = std::move(page.markdown);
    if (doc.title.empty()) doc.title = markdown_title(doc.markdown);
    // The converter leaves the title out of the Markdown; it goes back in, to be searchable.
    else if (doc.markdown.find_first_not_of(" \t\r\n") != std::string::npos && markdown_title(doc.markdown) != doc.title)
      doc.markdown = "# " + doc.title + "\n\n" + doc.markdown;
  } else {
    doc.markdown = std::move(text);
    doc.title = ext == ".txt" ? first_line(doc.markdown) : markdown_title(doc.markdown);
    if (doc.title.size() > 120) doc.title.clear();  // a paragraph, not a title
  }
  if (doc.title.empty()) doc.title = path.stem().string();
  if (doc.markdown.find_first_not_of(" \t\r\n") == std::string::npos) why = "no text";
  return doc;
}

bool read_file(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = std::move(s).str();
  return !in.bad();
}

}  // namespace

LocalIndex::LocalIndex(const std::string& path, bool create) : path_(path) {
  const int flags = create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(path + ": cannot open the index: " + why +
                (create ? "" : " (build one with `nagare index DIR --out " + path + "`)"));
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    int64_t tables = 0;
    {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM sqlite_master", -1, &st, nullptr) != SQLITE_OK ||
          sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        throw Error(path + ": not a nagare index (" + sqlite3_errmsg(db_) + ")");
      }
      tables = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    if (tables == 0) {
      if (!create) throw Error(path + ": not a nagare index (an empty database); build one with `nagare index DIR --out " + path + "`");
      exec("BEGIN");
      try {
        exec(kSchema);
        exec("COMMIT");
      } catch (const Error& e) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw Error(std::string(e.what()) + " (this SQLite needs FTS5 with the trigram tokenizer, SQLite 3.34 or later)");
      }
      return;
    }
    std::string format, version;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT key, value FROM meta WHERE key IN ('format', 'version')", -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        const std::string key = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        const auto* value = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
        (key == "format" ? format : version) = value ? value : "";
      }
    }
    sqlite3_finalize(st);
    if (format != kFormatName) throw Error(path + ": an SQLite database, but not a nagare index; give another --out file");
    if (std::atoi(version.c_str()) > kFormatVersion)
      throw Error(path + ": an index of a newer format (" + version + "; this nagare reads " +
                  std::to_string(kFormatVersion) + "): rebuild it into a new file");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

LocalIndex::~LocalIndex() { sqlite3_close(db_); }

void LocalIndex::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw Error(path_ + ": " + why);
  }
}

void LocalIndex::fail(const std::string& what) const { throw Error(path_ + ": " + what + ": " + sqlite3_errmsg(db_)); }

int LocalIndex::document_count() const {
  Stmt st(db_, path_, "SELECT count(*) FROM documents");
  st.step();
  return int(st.i64(0));
}

IndexStats LocalIndex::add_directory(const std::string& dir, const std::function<void(const std::string&)>& progress) {
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(root)) throw Error(dir + ": not a directory" + (ec ? ": " + ec.message() : ""));
  const std::string prefix = root.string() == "/" ? "/" : root.string() + "/";
  auto inside = [&](const fs::path& p) { return p.string().rfind(prefix, 0) == 0; };

  IndexStats stats;
  auto skip = [&](const std::string& path, const std::string& why) {
    ++stats.skipped;
    stats.skipped_files.push_back(path + ": " + why);
  };
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) fail("cannot write the index");
  try {
    Stmt find(db_, path_, "SELECT id, size, mtime, first_passage, passages FROM documents WHERE path = ?1");
    Stmt drop_passages(db_, path_, "DELETE FROM passages WHERE rowid BETWEEN ?1 AND ?2");
    Stmt insert_passage(db_, path_, "INSERT INTO passages (rowid, text, doc_id) VALUES (?1, ?2, ?3)");
    Stmt insert_doc(db_, path_,
                    "INSERT INTO documents (path, title, content, size, mtime, first_passage, passages) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    Stmt update_doc(db_, path_,
                    "UPDATE documents SET title = ?2, content = ?3, size = ?4, mtime = ?5, first_passage = ?6, "
                    "passages = ?7 WHERE id = ?1");
    int64_t next_rowid = 1;
    {
      Stmt last(db_, path_, "SELECT rowid FROM passages ORDER BY rowid DESC LIMIT 1");
      if (last.step()) next_rowid = last.i64(0) + 1;
    }
    std::set<std::string> kept;

    auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::directory_entry& entry = *it;
      const fs::path& p = entry.path();
      const std::string name = p.filename().string();
      std::error_code e2;
      if (!name.empty() && name[0] == '.') {
        if (entry.is_directory(e2) && !entry.is_symlink(e2)) it.disable_recursion_pending();
        continue;
      }
      if (entry.is_directory(e2) || !indexable_extension(p)) continue;
      const std::string path = p.string();
      if (entry.is_symlink(e2)) {
        const fs::path target = fs::canonical(p, e2);
        if (e2 || !inside(target)) {
          skip(path, e2 ? "a broken symbolic link" : "a symbolic link to outside the directory");
          continue;
        }
      }
      if (!entry.is_regular_file(e2)) continue;
      if (progress) progress(path);
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        skip(path, "cannot stat");
        continue;
      }
      const int64_t size = st.st_size;
      const int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;

      find.reset();
      find.bind(1, path);
      const bool known = find.step();
      const int64_t doc_id = known ? find.i64(0) : 0;
      const int64_t old_first = known ? find.i64(3) : 0, old_count = known ? find.i64(4) : 0;
      if (known && find.i64(1) == size && find.i64(2) == mtime) {
        ++stats.unchanged;
        kept.insert(path);
        continue;
      }
      if (size > kMaxFileBytes) {
        skip(path, "larger than 20 MiB");
        continue;
      }
      std::string bytes, why;
      if (!read_file(p, bytes)) {
        skip(path, "cannot read");
        continue;
      }
      const Converted doc = convert_file(p, bytes, why);
      if (!why.empty()) {
        skip(path, why);
        continue;
      }
      const std::vector<std::string> passages = split_passages(doc.markdown);
      if (known && old_count > 0) {
        drop_passages.reset();
        drop_passages.bind(1, old_first).bind(2, old_first + old_count - 1);
        drop_passages.step();
      }
      Stmt& write = known ? update_doc : insert_doc;
      write.reset();
      if (known) write.bind(1, doc_id);
      else write.bind(1, path);
      write.bind(2, doc.title).bind(3, doc.markdown).bind(4, size).bind(5, mtime).bind(6, next_rowid);
      write.bind(7, int64_t(passages.size()));
      write.step();
      const int64_t id = known ? doc_id : sqlite3_last_insert_rowid(db_);
      for (const std::string& text : passages) {
        insert_passage.reset();
        insert_passage.bind(1, next_rowid++).bind(2, text).bind(3, id);
        insert_passage.step();
      }
      ++(known ? stats.updated : stats.added);
      kept.insert(path);
    }
    if (ec) throw Error(root.string() + ": cannot list the directory: " + ec.message());

    // Documents under this directory whose files are gone (or skipped now).
    Stmt under(db_, path_, "SELECT id, path, first_passage, passages FROM documents WHERE substr(path, 1, ?2) = ?1");
    under.bind(1, prefix).bind(2, int64_t(prefix.size()));
    std::vector<std::array<int64_t, 3>> gone;
    while (under.step())
      if (!kept.count(under.text(1))) gone.push_back({under.i64(0), under.i64(2), under.i64(3)});
    Stmt drop_doc(db_, path_, "DELETE FROM documents WHERE id = ?1");
    for (const auto& [id, first, count] : gone) {
      if (count > 0) {
        drop_passages.reset();
        drop_passages.bind(1, first).bind(2, first + count - 1);
        drop_passages.step();
      }
      drop_doc.reset();
      drop_doc.bind(1, id);
      drop_doc.step();
      ++stats.removed;
    }
    // BM25 of the LIKE-matched terms needs the passage count and mean length; kept here rather
    // than counted by every search.
    exec("UPDATE meta SET value = (SELECT count(*) FROM passages) WHERE key = 'passage_count';"
         "UPDATE meta SET value = (SELECT coalesce(sum(length(text)), 0) FROM passages) WHERE key = 'passage_chars';");
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return stats;
}

std::vector<LocalIndex::Hit> LocalIndex::search(const std::string& query, int count) const {
  const QueryTerms terms = parse_query(query);
  if (terms.empty() || count <= 0) return {};
  double passages = 0, chars = 0;
  {
    Stmt meta(db_, path_, "SELECT key, value FROM meta WHERE key IN ('passage_count', 'passage_chars')");
    while (meta.step()) (meta.text(0) == "passage_count" ? passages : chars) = std::atof(meta.text(1).c_str());
  }
  if (passages <= 0) return {};
  const double mean_chars = std::max(1.0, chars / passages);

  struct Candidate {
    int64_t doc;
    std::string text;
    double score = 0;
  };
  std::map<int64_t, Candidate> found;  // by passage rowid
  if (!terms.match.empty()) {
    // bm25() is negative, lower is better; scores here are higher-is-better.
    Stmt st(db_, path_,
            "SELECT rowid, doc_id, text, bm25(passages) FROM passages WHERE passages MATCH ?1 "
            "ORDER BY bm25(passages) LIMIT 5000");
    st.bind(1, match_expression(terms));
    while (st.step()) found[st.i64(0)] = Candidate{st.i64(1), st.text(2), -st.f64(3)};
  }
  if (!terms.like.empty()) {
    // Terms of 1-2 code points: no trigram to look them up by, so a scan, scored with BM25 by hand.
    std::string sql = "SELECT rowid, doc_id, text FROM passages WHERE ";
    for (size_t i = 0; i < terms.like.size(); ++i)
      sql += (i ? " OR " : "") + std::string("text LIKE ?") + std::to_string(i + 1) + " ESCAPE '\\'";
    sql += " LIMIT 50000";
    Stmt st(db_, path_, sql);
    for (size_t i = 0; i < terms.like.size(); ++i) st.bind(int(i + 1), like_pattern(terms.like[i]));
    std::vector<std::pair<int64_t, std::vector<size_t>>> rows;  // rowid, frequency of each term
    std::vector<double> with_term(terms.like.size(), 0);
    while (st.step()) {
      const int64_t rowid = st.i64(0);
      const auto at = found.try_emplace(rowid, Candidate{st.i64(1), st.text(2), 0}).first;
      std::vector<size_t> tf(terms.like.size());
      for (size_t t = 0; t < tf.size(); ++t) {
        tf[t] = count_occurrences(at->second.text, terms.like[t]);
        with_term[t] += tf[t] > 0;
      }
      rows.emplace_back(rowid, std::move(tf));
    }
    for (auto& [rowid, tf] : rows) {
      Candidate& c = found[rowid];
      const double len_norm = 1 - kB + kB * double(count_code_points(c.text)) / mean_chars;
      for (size_t t = 0; t < tf.size(); ++t) {
        if (tf[t] == 0) continue;
        // FTS5's IDF, floored as bm25() floors it: a term in most passages tells them apart by
        // frequency only.
        const double idf = std::max(1e-6, std::log((passages - with_term[t] + 0.5) / (with_term[t] + 0.5)));
        c.score += idf * double(tf[t]) * (kK1 + 1) / (double(tf[t]) + kK1 * len_norm);
      }
    }
  }

  // Each document once, by its best passage.
  std::map<int64_t, const Candidate*> best;
  for (const auto& [rowid, c] : found) {
    const Candidate*& b = best[c.doc];
    if (!b || c.score > b->score) b = &c;
  }
  std::vector<std::pair<int64_t, const Candidate*>> ranked(best.begin(), best.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second->score > b.second->score; });
  if (int(ranked.size()) > count) ranked.resize(size_t(count));

  std::vector<Hit> hits;
  Stmt doc(db_, path_, "SELECT path, title, content FROM documents WHERE id = ?1");
  for (const auto& [id, c] : ranked) {
    doc.reset();
    doc.bind(1, id);
    if (!doc.step()) continue;
    hits.push_back(Hit{doc.text(0), doc.text(1), make_snippet(c->text, terms.words), doc.text(2), c->score});
  }
  return hits;
}

}  // namespace nagare
