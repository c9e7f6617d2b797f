// `nagare fetch URL...`: pages fetched the way `nagare extract` fetches them (robots.txt, the
// private-address guard, size and time limits, the page cache) and printed as Markdown, or as
// JSON lines; for looking at what the pipeline will read from a page.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "pipeline/fetcher.h"
#include "pipeline/page_text.h"

namespace nagare {
namespace {

struct FetchArgs {
  std::vector<std::string> urls;
  bool json = false, ignore_robots = false, allow_private = false;
  std::string cache_dir;
  double timeout_s = FetchOptions{}.timeout_s;
  size_t max_bytes = FetchOptions{}.max_bytes;
};

int run_fetch(const FetchArgs& a) {
  FetchOptions options;
  options.respect_robots = !a.ignore_robots;
  options.allow_private = a.allow_private;
  options.cache_dir = a.cache_dir;
  options.timeout_s = a.timeout_s;
  options.max_bytes = a.max_bytes;
  Fetcher fetcher(options);
  const std::vector<FetchedPage> pages = fetcher.fetch_all(a.urls);

  int failed = 0;
  for (const FetchedPage& page : pages) {
    const PageText text = page_text(page);
    const bool bad = !page.ok() || !text.skipped.empty();
    failed += bad;
    if (a.json) {
      const nlohmann::json j = {
          {"url", page.url},        {"final_url", page.final_url}, {"status", page.status},
          {"content_type", page.content_type}, {"from_cache", page.from_cache},
          {"title", text.title},    {"markdown", text.markdown},   {"error", page.error},
          {"skipped", page.ok() ? text.skipped : ""},
      };
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      continue;
    }
    if (!page.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", page.url.c_str(), page.error.c_str());
      continue;
    }
    if (!text.skipped.empty()) {
      std::fprintf(stderr, "skipped: %s: %s\n", page.url.c_str(), text.skipped.c_str());
      continue;
    }
    std::printf("# %s\nSource: %s\n\n%s\n", text.title.empty() ? text.url.c_str() : text.title.c_str(), text.url.c_str(),
                text.markdown.c_str());
    if (!text.markdown.empty() && text.markdown.back() != '\n') std::printf("\n");
  }
  std::fflush(stdout);
  return failed ? 1 : 0;
}

}  // namespace

void add_fetch_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("fetch", "Fetch web pages and print them as Markdown (what `extract` reads)");
  static FetchArgs a;
  cmd->add_option("urls", a.urls, "http(s) URLs")->required();
  cmd->add_flag("--json", a.json, "One JSON object per page: url, final_url, status, title, markdown, error, skipped");
  cmd->add_flag("--ignore-robots", a.ignore_robots, "Fetch pages that the sites' robots.txt disallows");
  cmd->add_flag("--allow-private", a.allow_private, "Allow loopback and private-network addresses");
  cmd->add_option("--cache-dir", a.cache_dir, "Keep fetched pages here and reuse them on later runs");
  cmd->add_option("--fetch-timeout", a.timeout_s, "Seconds for each request (default 20)")->check(CLI::PositiveNumber);
  cmd->add_option("--max-page-bytes", a.max_bytes, "Largest body accepted, e.g. 10485760 or 10MiB (default 10 MiB)")
      ->transform(CLI::AsSizeValue(false));
  cmd->footer(
      "Exit status 1 when any page could not be fetched or had no text (binary, empty).\n"
      "PDFs are read with pdftotext (Debian: poppler-utils).");
  cmd->callback([&action] {
    action = [] { return run_fetch(a); };
  });
}

}  // namespace nagare
