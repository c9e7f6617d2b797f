#include "pipeline/extract_pipeline.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "pipeline/extract_merge.h"
#include "pipeline/extract_trace.h"
#include "pipeline/page_text.h"
#include "pipeline/url.h"
#include "util/error.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string trim(std::string s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string questions_list(const std::vector<std::string>& questions) {
  std::string s;
  for (size_t i = 0; i < questions.size(); ++i) s += std::to_string(i + 1) + ". " + questions[i] + "\n";
  return s;
}

std::string rate(int64_t tokens, double ms) {
  return ms > 0 ? std::to_string(int64_t(double(tokens) / (ms / 1000))) + " tok/s" : "";
}

// The canonical form of a web URL, for deduplication; local files and odd URLs as given.
std::string canonical_or_same(const std::string& url) {
  try {
    return canonical_url(url);
  } catch (const std::exception&) {
    return url;
  }
}

// One page's text and where it came from.
struct Document {
  std::string url;
  std::string title;
  std::string markdown;
  bool duplicate = false;  // redirected to a page fetched already
};

struct Run {
  const ExtractOptions& o;
  LlmBackend& llm;
  ExtractProgress& progress;
  ExtractTrace trace;
  ExtractReport report;
  int parallel;

  Run(const ExtractOptions& options, LlmBackend& l, ExtractProgress& p)
      : o(options),
        llm(l),
        progress(p),
        trace(options.trace_path),
        parallel(options.parallel > 0 ? options.parallel : l.default_parallel()) {}

  LlmCall plan_call() const {
    LlmCall call;
    call.id = "plan";
    call.user = fill_template(o.templates.plan, {{"question", o.question}, {"keywords_n", std::to_string(o.keywords_n)}});
    call.schema = plan_schema(o.keywords_n, o.questions.empty());
    call.max_tokens = o.plan_max_tokens;
    call.temperature = o.temperature;
    call.seed = o.seed;
    return call;
  }

  LlmCall extract_call(const ReportSource& s) const {
    LlmCall call;
    call.id = "extract/" + std::to_string(s.id);
    call.user = fill_template(o.templates.extract, {{"question", o.question},
                                                    {"questions", questions_list(report.questions)},
                                                    {"facts_n", std::to_string(o.facts_n)},
                                                    {"url", s.url},
                                                    {"title", s.title},
                                                    {"heading", s.heading.empty() ? "-" : s.heading},
                                                    {"text", s.text}});
    call.schema = extract_schema(int(report.questions.size()), o.facts_n);
    call.max_tokens = o.extract_max_tokens;
    call.temperature = o.temperature;
    call.seed = o.seed;
    return call;
  }

  // A question that cannot fit the context even with an empty chunk is refused up front.
  void check_question_fits() {
    ReportSource empty;
    LlmCall probe = report.questions.empty() ? plan_call() : extract_call(empty);
    const int32_t need = llm.count_prompt_tokens(probe) + probe.max_tokens;
    if (need > llm.context_tokens())
      throw Error("the question is too long: with the instructions and room for the answer it needs " +
                  std::to_string(need) + " tokens, over the model's context of " + std::to_string(llm.context_tokens()) +
                  " tokens (raise --ctx-size or shorten the question)");
  }

  StepStats begin_step(const std::string& name, size_t total) {
    progress.begin(name, total);
    StepStats s;
    s.name = name;
    return s;
  }

  void end_step(StepStats s, Clock::time_point start, const std::string& detail = "") {
    s.ms = ms_since(start);
    progress.end(s, detail);
    report.steps.push_back(s);
  }

  void plan() {
    report.keywords = o.keywords;
    report.questions = o.questions;
    if (!report.keywords.empty() && !report.questions.empty()) return;
    const auto start = Clock::now();
    StepStats s = begin_step("plan", 1);
    const LlmCall call = plan_call();
    LlmResult r = llm.run({call}, 1)[0];
    trace.record("plan", call, r, 1);
    s.items = 1;
    s.prompt_tokens = r.prompt_tokens;
    s.completion_tokens = r.completion_tokens;
    const Json j = r.ok() ? parse_json_answer(r.text) : Json();
    auto strings = [&](const char* key) {
      std::vector<std::string> out;
      if (j.is_object() && j.contains(key) && j[key].is_array())
        for (const Json& v : j[key])
          if (v.is_string() && !trim(v.get<std::string>()).empty() &&
              std::find(out.begin(), out.end(), trim(v.get<std::string>())) == out.end())
            out.push_back(trim(v.get<std::string>()));
      return out;
    };
    if (report.keywords.empty()) {
      report.keywords = strings("keywords");
      if (int(report.keywords.size()) > o.keywords_n) report.keywords.resize(size_t(o.keywords_n));
    }
    if (report.questions.empty()) report.questions = strings("questions");
    if (report.keywords.empty() || report.questions.empty()) {
      ++s.failures;
      report.missing.push_back("the model proposed no " + std::string(report.keywords.empty() ? "search queries" : "questions") +
                               " (" + (r.ok() ? "its answer was not the JSON asked for" : r.error) +
                               "): the question itself stands in for them");
      if (report.keywords.empty()) report.keywords = {o.question};
      if (report.questions.empty()) report.questions = {o.question};
    }
    end_step(s, start);
    for (const auto& k : report.keywords) progress.note("query: " + k);
    for (const auto& q : report.questions) progress.note("question: " + q);
  }

  std::vector<SearchResult> search(SearchProvider& provider) {
    const auto start = Clock::now();
    StepStats s = begin_step("search", report.keywords.size());
    std::vector<SearchResult> kept;
    std::set<std::string> seen;
    for (size_t k = 0; k < report.keywords.size(); ++k) {
      const std::string& kw = report.keywords[k];
      std::vector<SearchResult> found;
      bool failed = false;
      try {
        found = provider.search(kw, o.per_query);
      } catch (const std::exception& e) {
        failed = true;
        ++s.failures;
        report.missing.push_back("search for \"" + kw + "\" failed: " + e.what());
      }
      if (found.empty() && !failed) report.missing.push_back("no search results for \"" + kw + "\"");
      int taken = 0;
      for (auto& r : found) {
        if (taken >= o.per_query) break;
        ++taken;
        if (!seen.insert(canonical_or_same(r.url)).second) continue;
        kept.push_back(std::move(r));
      }
      ++s.items;
      progress.advance(k + 1, std::to_string(kept.size()) + " page(s)");
    }
    end_step(s, start, std::to_string(kept.size()) + " distinct page(s)");
    return kept;
  }

  std::vector<Document> fetch(std::vector<SearchResult>& results, Fetcher& fetcher) {
    const auto start = Clock::now();
    std::vector<Document> docs(results.size());
    std::vector<std::string> urls;
    std::vector<size_t> url_index;
    for (size_t i = 0; i < results.size(); ++i) {
      docs[i].url = results[i].url;
      docs[i].title = results[i].title;
      if (!results[i].content.empty()) docs[i].markdown = results[i].content;  // a local document
      else urls.push_back(results[i].url), url_index.push_back(i);
    }
    StepStats s = begin_step("fetch", urls.size());
    size_t done = 0;
    std::vector<FetchedPage> pages =
        fetcher.fetch_all(urls, [&](const FetchedPage& p) {
          ++done;
          progress.advance(done, p.ok() ? p.url : p.url + ": " + p.error);
        });
    std::set<std::string> final_urls;  // a redirect to a page already fetched is that page
    for (size_t k = 0; k < pages.size(); ++k) {
      Document& d = docs[url_index[k]];
      const FetchedPage& p = pages[k];
      ++s.items;
      if (p.ok() && !final_urls.insert(canonical_or_same(p.final_url.empty() ? p.url : p.final_url)).second) {
        progress.note(p.url + " is " + p.final_url + ", already fetched");
        d.duplicate = true;
        continue;
      }
      if (!p.ok()) {
        ++s.failures;
        report.missing.push_back("fetching " + p.url + " failed: " + p.error);
        continue;
      }
      PageText t = page_text(p);
      if (!t.skipped.empty()) {
        ++s.failures;
        report.missing.push_back(p.url + " was skipped: " + t.skipped);
        continue;
      }
      d.markdown = std::move(t.markdown);
      if (!t.title.empty()) d.title = t.title;
    }
    std::vector<Document> kept;
    for (auto& d : docs) {
      if (d.duplicate) continue;
      if (trim(d.markdown).empty()) {
        bool reported = false;
        for (const auto& m : report.missing) reported |= m.find(d.url) != std::string::npos;
        if (!reported) report.missing.push_back(d.url + " has no text content");
        continue;
      }
      kept.push_back(std::move(d));
    }
    end_step(s, start, std::to_string(kept.size()) + " with text");
    return kept;
  }

  void chunk(const std::vector<Document>& docs) {
    const auto start = Clock::now();
    StepStats s = begin_step("chunk", docs.size());
    size_t dropped = 0;
    for (size_t d = 0; d < docs.size(); ++d) {
      const auto chunks = chunk_markdown(docs[d].markdown, o.chunking);
      for (const auto& c : chunks) {
        if (int(report.sources.size()) >= o.max_chunks) {
          ++dropped;
          continue;
        }
        ReportSource src;
        src.id = int(report.sources.size()) + 1;
        src.url = docs[d].url;
        src.title = docs[d].title;
        src.heading = c.heading;
        src.chunk_index = c.index;
        src.chunk_count = int(chunks.size());
        src.begin = c.begin;
        src.end = c.end;
        src.text = c.text;
        report.sources.push_back(std::move(src));
      }
      ++s.items;
      progress.advance(d + 1, std::to_string(report.sources.size()) + " chunk(s)");
    }
    if (dropped)
      report.missing.push_back(std::to_string(dropped) + " chunk(s) past --max-chunks " + std::to_string(o.max_chunks) +
                               " were not extracted");
    end_step(s, start, std::to_string(report.sources.size()) + " chunk(s)");
  }

  // One chunk's answer: true when it is the JSON asked for.
  bool parse_extraction(const LlmResult& r, ChunkExtraction& e) const {
    const Json j = r.ok() ? parse_json_answer(r.text) : Json();
    if (!j.is_object() || !j.contains("answers") || !j["answers"].is_array()) return false;
    e.answers.assign(report.questions.size(), "");
    for (size_t q = 0; q < e.answers.size() && q < j["answers"].size(); ++q) {
      const Json& a = j["answers"][q];
      std::string t = a.is_string() ? a.get<std::string>()
                      : a.is_object() && a.contains("answer") && a["answer"].is_string() ? a["answer"].get<std::string>()
                                                                                          : "";
      t = trim(t);
      if (!is_no_answer(t)) e.answers[q] = t;
    }
    e.facts.clear();
    if (j.contains("facts") && j["facts"].is_array())
      for (const Json& f : j["facts"])
        if (f.is_string() && !trim(f.get<std::string>()).empty() && int(e.facts.size()) < o.facts_n)
          e.facts.push_back(trim(f.get<std::string>()));
    return true;
  }

  void extract() {
    const auto start = Clock::now();
    StepStats s = begin_step("extract", report.sources.size());
    std::vector<LlmCall> calls;
    for (const auto& src : report.sources) calls.push_back(extract_call(src));
    report.extractions.assign(calls.size(), {});
    size_t done = 0;
    int64_t completion = 0;
    auto on_done = [&](size_t, const LlmResult& r) {
      ++done;
      completion += r.completion_tokens;
      progress.advance(done, rate(completion, ms_since(start)));
    };
    std::vector<LlmResult> results = llm.run(calls, parallel, on_done);
    std::vector<size_t> retry;
    for (size_t i = 0; i < calls.size(); ++i) {
      ChunkExtraction& e = report.extractions[i];
      e.source = report.sources[i].id;
      e.attempts = 1;
      trace.record("extract", calls[i], results[i], 1);
      s.prompt_tokens += results[i].prompt_tokens;
      s.completion_tokens += results[i].completion_tokens;
      if (!parse_extraction(results[i], e)) retry.push_back(i);
    }
    // Each chunk whose answer could not be used gets one more try; one that fails again is
    // reported, never dropped silently. The same greedy call would only repeat itself, so the
    // retry samples (another seed, some temperature) with a frequency penalty against the
    // repeating loop small models fall into, and has twice the room when it was cut off.
    if (!retry.empty()) {
      progress.note(std::to_string(retry.size()) + " chunk(s) to retry");
      std::vector<LlmCall> again;
      for (size_t i : retry) {
        LlmCall c = calls[i];
        if (results[i].finish_reason == "length") c.max_tokens *= 2;
        c.seed += 1;
        c.temperature = std::max(c.temperature, 0.3f);
        c.frequency_penalty = 0.5f;
        again.push_back(std::move(c));
      }
      std::vector<LlmResult> second = llm.run(again, parallel);
      for (size_t k = 0; k < retry.size(); ++k) {
        const size_t i = retry[k];
        ChunkExtraction& e = report.extractions[i];
        e.attempts = 2;
        trace.record("extract", again[k], second[k], 2);
        s.prompt_tokens += second[k].prompt_tokens;
        s.completion_tokens += second[k].completion_tokens;
        if (parse_extraction(second[k], e)) continue;
        ++s.failures;
        e.error = second[k].ok() ? (second[k].finish_reason == "length"
                                        ? "the answer was cut off at " + std::to_string(again[k].max_tokens) + " tokens"
                                        : "the answer is not the JSON asked for")
                                 : second[k].error;
        report.missing.push_back("chunk [" + std::to_string(e.source) + "] of " + report.sources[i].url +
                                 " gave no usable extraction after 2 tries: " + e.error);
      }
    }
    s.items = int(calls.size());
    end_step(s, start, rate(s.completion_tokens, ms_since(start)));
  }

  void merge() {
    MergeInput in;
    in.question = o.question;
    in.questions = report.questions;
    in.max_source = int(report.sources.size());
    in.report_facts = o.report_facts;
    in.max_tokens = o.merge_max_tokens;
    in.parallel = parallel;
    in.temperature = o.temperature;
    in.seed = o.seed;
    for (const auto& e : report.extractions) {
      for (size_t q = 0; q < e.answers.size(); ++q)
        if (!e.answers[q].empty()) in.notes.push_back({int(q), e.answers[q], {e.source}});
      for (const auto& f : e.facts) in.notes.push_back({-1, f, {e.source}});
    }
    report.answers.assign(report.questions.size(), {});
    if (in.notes.empty()) {
      report.missing.push_back("no chunk answered any question or gave any fact: there was nothing to merge");
      return;
    }
    const auto start = Clock::now();
    StepStats s = begin_step("merge", 1);
    MergeOutput m = merge_notes(in, o.templates.merge, llm, trace);
    s.items = m.calls;
    s.failures = int(m.problems.size());
    s.prompt_tokens = m.prompt_tokens;
    s.completion_tokens = m.completion_tokens;
    report.summary = m.summary;
    report.answers = m.answers;
    report.answers.resize(report.questions.size());
    report.facts = m.facts;
    report.merge_levels = m.levels;
    for (auto& p : m.problems) report.missing.push_back(p);
    end_step(s, start, m.levels > 1 ? std::to_string(m.levels) + " levels" : "");
  }
};

}  // namespace

ExtractReport run_extract(const ExtractOptions& o, LlmBackend& llm, SearchProvider& provider, Fetcher& fetcher,
                          ExtractProgress& progress) {
  if (trim(o.question).empty()) throw Error("the question is empty");
  Run run(o, llm, progress);
  run.report.question = o.question;
  run.report.model = llm.describe();
  run.report.search = provider.name();
  run.report.questions = o.questions;
  run.check_question_fits();
  run.plan();
  run.check_question_fits();
  std::vector<SearchResult> results = run.search(provider);
  if (results.empty()) run.report.missing.push_back("the search found no pages: nothing to extract from");
  std::vector<Document> docs = run.fetch(results, fetcher);
  if (!results.empty() && docs.empty()) run.report.missing.push_back("no page could be fetched with text in it");
  run.chunk(docs);
  if (!run.report.sources.empty()) run.extract();
  run.merge();
  return std::move(run.report);
}

}  // namespace nagare
