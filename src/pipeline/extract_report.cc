#include "pipeline/extract_report.h"

#include <cstdio>

#include "pipeline/prompts.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;

Json cited_json(const CitedItem& item, const char* field) {
  return {{field, item.text}, {"sources", item.sources}};
}

std::string citations(const std::vector<int>& sources) {
  std::string s;
  for (int id : sources) s += " [" + std::to_string(id) + "](#source-" + std::to_string(id) + ")";
  return s;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

bool ExtractReport::anything_extracted() const {
  for (const auto& e : extractions) {
    if (!e.error.empty()) continue;
    if (!e.facts.empty()) return true;
    for (const auto& a : e.answers)
      if (!a.empty()) return true;
  }
  return false;
}

Json report_json(const ExtractReport& r) {
  Json answers = Json::array();
  for (size_t i = 0; i < r.answers.size(); ++i) {
    Json a = cited_json(r.answers[i], "answer");
    a["question"] = i < r.questions.size() ? r.questions[i] : "";
    a["answered"] = !r.answers[i].text.empty();
    answers.push_back(std::move(a));
  }
  Json facts = Json::array();
  for (const auto& f : r.facts) facts.push_back(cited_json(f, "fact"));
  Json sources = Json::array();
  for (const auto& s : r.sources)
    sources.push_back({{"id", s.id}, {"url", s.url}, {"title", s.title}, {"heading", s.heading},
                       {"chunk", s.chunk_index}, {"chunks", s.chunk_count}, {"begin", s.begin}, {"end", s.end},
                       {"text", s.text}});
  Json extractions = Json::array();
  for (const auto& e : r.extractions) {
    Json x = {{"source", e.source}, {"answers", e.answers}, {"facts", e.facts}, {"attempts", e.attempts}};
    if (!e.error.empty()) x["error"] = e.error;
    extractions.push_back(std::move(x));
  }
  Json steps = Json::array();
  for (const auto& s : r.steps)
    steps.push_back({{"step", s.name}, {"ms", s.ms}, {"items", s.items}, {"failures", s.failures},
                     {"prompt_tokens", s.prompt_tokens}, {"completion_tokens", s.completion_tokens}});
  return {{"question", r.question}, {"keywords", r.keywords},  {"questions", r.questions},
          {"model", r.model},       {"search", r.search},      {"summary", r.summary},
          {"answers", answers},     {"facts", facts},          {"sources", sources},
          {"extractions", extractions}, {"missing", r.missing}, {"merge_levels", r.merge_levels},
          {"steps", steps}};
}

std::string report_markdown(const ExtractReport& r) {
  std::string md = "# " + one_line(r.question) + "\n\n";
  if (!r.summary.empty()) md += "## Summary\n\n" + r.summary + "\n\n";
  if (!r.answers.empty()) {
    md += "## Answers\n\n";
    for (size_t i = 0; i < r.answers.size(); ++i) {
      md += "### " + std::to_string(i + 1) + ". " + one_line(i < r.questions.size() ? r.questions[i] : "") + "\n\n";
      md += r.answers[i].text.empty() ? "*No source answers this question.*\n\n"
                                      : r.answers[i].text + citations(r.answers[i].sources) + "\n\n";
    }
  }
  if (!r.facts.empty()) {
    md += "## Facts\n\n";
    for (const auto& f : r.facts) md += "- " + one_line(f.text) + citations(f.sources) + "\n";
    md += "\n";
  }
  if (!r.missing.empty()) {
    md += "## What was missing\n\n";
    for (const auto& m : r.missing) md += "- " + one_line(m) + "\n";
    md += "\n";
  }
  if (!r.sources.empty()) {
    md += "## Sources\n\n";
    for (const auto& s : r.sources) {
      md += "- <a id=\"source-" + std::to_string(s.id) + "\"></a>[" + std::to_string(s.id) + "] " +
            (s.title.empty() ? s.url : one_line(s.title)) + " — <" + s.url + ">";
      if (s.chunk_count > 1)
        md += " (part " + std::to_string(s.chunk_index + 1) + " of " + std::to_string(s.chunk_count) + ")";
      md += "\n";
    }
    md += "\n";
  }
  // The notes the report was merged from, so every claim can be traced to what a chunk said.
  bool any_note = false;
  std::string notes = "## Notes by source\n\n";
  for (const auto& e : r.extractions) {
    std::string body;
    for (size_t q = 0; q < e.answers.size(); ++q)
      if (!e.answers[q].empty()) body += "- Q" + std::to_string(q + 1) + ": " + one_line(e.answers[q]) + "\n";
    for (const auto& f : e.facts) body += "- " + one_line(f) + "\n";
    if (!e.error.empty()) body += "- *failed: " + one_line(e.error) + "*\n";
    if (body.empty()) continue;
    any_note = true;
    notes += "**[" + std::to_string(e.source) + "]**\n\n" + body + "\n";
  }
  if (any_note) md += notes;
  if (!r.steps.empty()) {
    md += "## Run\n\n| step | time | items | failures | prompt tokens | completion tokens |\n|---|---:|---:|---:|---:|---:|\n";
    for (const auto& s : r.steps)
      md += "| " + s.name + " | " + fmt("%.2f s", s.ms / 1000) + " | " + std::to_string(s.items) + " | " +
            std::to_string(s.failures) + " | " + std::to_string(s.prompt_tokens) + " | " +
            std::to_string(s.completion_tokens) + " |\n";
    md += "\nModel: " + r.model + ". Search: " + r.search + ".\n";
  }
  return md;
}

}  // namespace nagare
