// `nagare extract "QUESTION"`: the knowledge-extraction pipeline (src/pipeline) from the
// command line — the model in process (-m, a .gguf or a store name) or on a server (--url), a
// search provider (--search), and the report as Markdown and JSON.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "pipeline/engine_backend.h"
#include "pipeline/extract_pipeline.h"
#include "pipeline/openai_backend.h"
#include "store/model_store.h"
#include "util/error.h"

namespace nagare {
namespace {

struct ExtractArgs {
  ExtractOptions run;
  std::string model, url, api_key, search, questions_file, prompt_template, md_path, json_path;
  int32_t ctx_size = 8192;
  int32_t threads = 0;
  FetchOptions fetch;
  bool print_templates = false;
  bool quiet = false;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read " + path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  if (out.empty()) throw Error(path + " has no questions (one per line)");
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  std::ofstream out(path, std::ios::binary);
  if (!out || !out.write(text.data(), std::streamsize(text.size())))
    throw Error("cannot write " + path);
}

std::unique_ptr<LlmBackend> make_backend(const ExtractArgs& a, int parallel) {
  if (!a.url.empty()) {
    OpenAiBackendOptions o;
    o.url = a.url;
    o.api_key = a.api_key;
    if (o.api_key.empty())
      if (const char* k = std::getenv("OPENAI_API_KEY")) o.api_key = k;
    o.model = a.model;
    o.ctx_size = a.ctx_size;
    o.parallel = parallel;
    return std::make_unique<OpenAiBackend>(o);
  }
  if (a.model.empty()) throw Error("no model: pass -m MODEL (a .gguf file or a model in the store) or --url SERVER");
  EngineBackendOptions o;
  o.model_name = a.model;
  o.model_path = a.model;
  if (!is_file_argument(a.model)) {
    StoredModel m = ModelStore(ModelStore::default_root()).resolve(a.model);
    o.model_path = m.weights_path;
    o.template_text = m.manifest.template_text;
  }
  o.ctx_size = a.ctx_size;
  o.threads = a.threads;
  o.parallel = parallel;
  return std::make_unique<EngineBackend>(o);
}

int extract(ExtractArgs& a) {
  if (!a.prompt_template.empty()) a.run.templates = PromptTemplates::load(a.prompt_template, a.run.templates);
  if (a.print_templates) {
    std::fputs(a.run.templates.to_file().c_str(), stdout);
    return 0;
  }
  if (!a.questions_file.empty()) a.run.questions = read_lines(a.questions_file);
  if (a.search.empty())
    if (const char* s = std::getenv("NAGARE_SEARCH")) a.search = s;
  if (a.search.empty())
    throw Error("no search provider: pass --search searxng:URL | serpapi | brave | urls:FILE | local:INDEX");

  const bool tty = isatty(fileno(stderr)) != 0;
  ExtractProgress progress(a.quiet ? nullptr : stderr, tty);
  const int parallel = a.run.parallel > 0 ? a.run.parallel : 16;
  std::unique_ptr<LlmBackend> llm = make_backend(a, parallel);
  Fetcher fetcher(a.fetch);
  // The search API is an address the user chose (often a SearXNG on this machine or the LAN):
  // the private-address guard is for the pages search results point at, not for it.
  FetchOptions api_options = a.fetch;
  api_options.allow_private = true;
  api_options.cache_dir.clear();
  Fetcher api_fetcher(api_options);
  std::unique_ptr<SearchProvider> search = make_search_provider(a.search, api_fetcher);
  ExtractReport report = run_extract(a.run, *llm, *search, fetcher, progress);

  if (!a.json_path.empty()) write_file(a.json_path, report_json(report).dump(2) + "\n");
  if (!a.md_path.empty()) write_file(a.md_path, report_markdown(report));
  else if (a.json_path != "-") write_file("-", report_markdown(report));

  if (!a.quiet) {
    int pages = 0;
    std::string last;
    for (const auto& s : report.sources)
      if (s.url != last) ++pages, last = s.url;
    std::fprintf(stderr, "%d page(s), %zu chunk(s), %zu answer(s), %zu fact(s), %zu problem(s)\n", pages,
                 report.sources.size(), report.answers.size(), report.facts.size(), report.missing.size());
  }
  if (!report.anything_extracted()) {
    std::fprintf(stderr, "error: nothing could be extracted (see \"What was missing\" in the report)\n");
    return 1;
  }
  return 0;
}

}  // namespace

void add_extract_command(CLI::App& app, CommandAction& action) {
  auto* cmd = app.add_subcommand("extract", "Answer a question from web pages or local documents, with sources");
  static ExtractArgs a;
  cmd->option_defaults()->always_capture_default();
  cmd->add_option("question", a.run.question, "What you want to know, in any language");
  cmd->add_option("-m,--model", a.model, "A .gguf file or a model in the store (with --url: the server's model name)");
  cmd->add_option("--url", a.url, "An OpenAI-compatible server to run the LLM calls on (its root or /v1)");
  cmd->add_option("--api-key", a.api_key, "The server's API key (default: $OPENAI_API_KEY)");
  cmd->add_option("-c,--ctx-size", a.ctx_size, "Context size in tokens (with --url: the server's, when it does not say)")
      ->check(CLI::Range(256, 1 << 20));
  cmd->add_option("-t,--threads", a.threads, "Threads (default: physical cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--search", a.search,
                  "searxng:URL | serpapi ($SERPAPI_API_KEY) | brave ($BRAVE_API_KEY) | urls:FILE | local:INDEX "
                  "(default: $NAGARE_SEARCH)");
  cmd->add_option("--keywords", a.run.keywords_n, "Search queries the model proposes")->check(CLI::Range(1, 20));
  cmd->add_option("--keyword", a.run.keywords, "A search query (repeat; the model then proposes none)");
  cmd->add_option("--questions", a.questions_file, "A file of questions to answer, one per line");
  cmd->add_option("--per-query", a.run.per_query, "Results kept per query")->check(CLI::Range(1, 50));
  cmd->add_option("--chunk-chars", a.run.chunking.chunk_chars, "Characters per chunk")->check(CLI::Range(100, 100000));
  cmd->add_option("--chunk-overlap", a.run.chunking.overlap_chars, "Characters a chunk repeats of the one before");
  cmd->add_option("--facts", a.run.facts_n, "Facts extracted per chunk")->check(CLI::Range(0, 20));
  cmd->add_option("--report-facts", a.run.report_facts, "Facts in the merged report")->check(CLI::Range(0, 100));
  cmd->add_option("--max-chunks", a.run.max_chunks, "Chunks extracted at most")->check(CLI::Range(1, 100000));
  cmd->add_option("--parallel", a.run.parallel, "LLM calls in flight (default 16: a full batch)")->check(CLI::Range(1, 256));
  cmd->add_option("--extract-max-tokens", a.run.extract_max_tokens, "Most tokens of one extraction")->check(CLI::Range(16, 1 << 16));
  cmd->add_option("--merge-max-tokens", a.run.merge_max_tokens, "Most tokens of one merge")->check(CLI::Range(16, 1 << 16));
  cmd->add_option("--temp", a.run.temperature, "Temperature of every call (0: greedy)")->check(CLI::Range(0.0, 2.0));
  cmd->add_option("--seed", a.run.seed, "Sampling seed");
  cmd->add_option("--md", a.md_path, "Write the report as Markdown here (default: stdout)");
  cmd->add_option("--json", a.json_path, "Write the report as JSON here ('-': stdout)");
  cmd->add_option("--prompt-template", a.prompt_template, "A file with [plan], [extract] and/or [merge] prompt sections");
  cmd->add_flag("--print-templates", a.print_templates, "Print the prompt templates (a --prompt-template file) and exit");
  cmd->add_option("--trace", a.run.trace_path, "Write every prompt and response here as JSON lines");
  cmd->add_option("--cache-dir", a.fetch.cache_dir, "Keep fetched pages here, so a re-run fetches nothing");
  cmd->add_flag("--ignore-robots", [](int64_t) { a.fetch.respect_robots = false; }, "Do not honour robots.txt");
  cmd->add_flag("--allow-private", a.fetch.allow_private, "Allow fetching loopback and private-network addresses");
  cmd->add_option("--fetch-timeout", a.fetch.timeout_s, "Seconds one page may take")->check(CLI::Range(1.0, 3600.0));
  cmd->add_option("--max-page-bytes", a.fetch.max_bytes, "Largest page fetched, e.g. 10485760 or 10MiB")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_flag("-q,--quiet", a.quiet, "No progress on stderr");
  cmd->callback([&action] {
    action = [] {
      if (a.run.question.empty() && !a.print_templates) throw Error("no question: nagare extract \"QUESTION\" ...");
      return extract(a);
    };
  });
}

}  // namespace nagare
