// `nagare index DIR --out INDEX`: builds or updates the local document index that
// `nagare extract --search local:INDEX` searches, and prints what changed and what was skipped.
// With --query it searches the index instead (DIR left out), to see what a corpus gives a query.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "pipeline/local_index.h"
#include "util/error.h"

namespace nagare {
namespace {

struct IndexArgs {
  std::string dir, out, query;
  int count = 10;
};

int run_index(const IndexArgs& a) {
  if (a.dir.empty() && a.query.empty()) throw Error("give a DIR to index, or --query to search the index");
  if (!a.dir.empty()) {
    LocalIndex index(a.out, /*create=*/true);
    // On a terminal the file being read shows on one line, rewritten; in a log, nothing.
    const bool tty = ::isatty(STDERR_FILENO);
    int seen = 0;
    const IndexStats s = index.add_directory(a.dir, [&](const std::string& path) {
      ++seen;
      if (tty) std::fprintf(stderr, "\r\033[K%d  %s", seen, path.c_str());
    });
    if (tty) std::fprintf(stderr, "\r\033[K");
    std::printf("%s: %d added, %d updated, %d unchanged, %d removed, %d skipped; %d documents in all\n",
                a.out.c_str(), s.added, s.updated, s.unchanged, s.removed, s.skipped, index.document_count());
    for (const std::string& why : s.skipped_files) std::printf("skipped %s\n", why.c_str());
  }
  if (!a.query.empty()) {
    const LocalIndex index(a.out, /*create=*/false);
    const auto hits = index.search(a.query, a.count);
    if (hits.empty()) std::printf("no documents match \"%s\"\n", a.query.c_str());
    int rank = 0;
    for (const auto& h : hits)
      std::printf("%d. %.4g  %s\n   %s\n   %s\n", ++rank, h.score, h.path.c_str(), h.title.c_str(), h.snippet.c_str());
  }
  return 0;
}

}  // namespace

void add_index_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("index", "Index local Markdown, text and HTML files for `extract --search local:INDEX`");
  static IndexArgs a;
  cmd->add_option("dir", a.dir, "The directory to index (recursively); files changed since the last run are re-read");
  cmd->add_option("-o,--out", a.out, "The index file (SQLite), created when missing")->required();
  cmd->add_option("-q,--query", a.query, "Search the index instead and print the best documents (path, score, snippet)");
  cmd->add_option("-n,--count", a.count, "With --query: how many documents")->check(CLI::PositiveNumber);
  cmd->callback([&action] { action = [] { return run_index(a); }; });
}

}  // namespace nagare
