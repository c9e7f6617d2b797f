#include "pipeline/prompts.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "util/error.h"

namespace nagare {
namespace {

using Json = nlohmann::ordered_json;

const char kPlan[] = R"(You plan research on the web.

# Question
{{question}}

# Task
1. Propose up to {{keywords_n}} web search queries that together find pages answering the question. Each query is a few keywords, as a person would type them into a search engine.
2. Write the specific questions (one to five) a reader needs answered to answer the question fully.
Write the queries and the questions in the language of the question.
Answer with JSON only.)";

const char kExtract[] = R"(# Role
You are an editor who extracts facts from a source text. Use only the source text below, never your own knowledge.

# Task
1. For each question, write the answer the source text gives, in one or two sentences. If the text does not answer it, write "no answer".
2. List up to {{facts_n}} important facts from the text that help answer the main question. Say when, where, who, what, how and how many, with the numbers the text gives.
Write in the language of the main question. Answer with JSON only.

# Main question
{{question}}

# Questions
{{questions}}

# Source text
URL: {{url}}
Title: {{title}}
Section: {{heading}}

{{text}})";

const char kMerge[] = R"(# Role
You write a research report from notes taken from several sources. Each note ends with the numbers of its sources in brackets, like [3] or [2, 5].

# Task
1. For each question, write one answer that combines the notes on it: merge what repeats, and where the notes disagree, say so. List the numbers of the sources it rests on. If no note answers the question, write "no answer" with no sources.
2. List the distinct facts (at most {{facts_n}}), merging duplicates, each with the numbers of its sources.
3. Write a short summary that answers the main question.
Use only the notes. Write in the language of the main question. Answer with JSON only.

# Main question
{{question}}

# Questions
{{questions}}

# Notes
{{notes}})";

// Every string has a length bound: a small model that starts repeating itself inside a string
// is then made to close it, so the answer still ends as the JSON asked for, within its tokens.
Json text(int max_chars) { return {{"type", "string"}, {"minLength", 1}, {"maxLength", max_chars}}; }

Json string_array(int min_items, int max_items, int max_chars) {
  return {{"type", "array"}, {"items", text(max_chars)}, {"minItems", min_items}, {"maxItems", max_items}};
}

Json cited(const char* field, int max_chars, int max_source) {
  return {{"type", "object"},
          {"properties",
           {{field, text(max_chars)},
            {"sources",
             {{"type", "array"},
              {"items", {{"type", "integer"}, {"minimum", 1}, {"maximum", std::max(1, max_source)}}},
              {"maxItems", 8}}}}},
          {"required", {field, "sources"}},
          {"additionalProperties", false}};
}

void check_placeholders(const std::string& text, const char* const* allowed, const std::string& where) {
  std::set<std::string> names;
  for (const char* const* p = allowed; *p; ++p) names.insert(*p);
  for (size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at + 2)) {
    const size_t end = text.find("}}", at + 2);
    if (end == std::string::npos) throw Error(where + ": \"{{\" is not closed by \"}}\"");
    const std::string name = text.substr(at + 2, end - at - 2);
    if (!names.count(name)) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + ("{{" + n + "}}");
      throw Error(where + ": unknown placeholder {{" + name + "}} (this step has " + list + ")");
    }
  }
}

}  // namespace

const char* const kPlanPlaceholders[] = {"question", "keywords_n", nullptr};
const char* const kExtractPlaceholders[] = {"question", "questions", "facts_n", "url", "title", "heading", "text", nullptr};
const char* const kMergePlaceholders[] = {"question", "questions", "facts_n", "notes", nullptr};

PromptTemplates PromptTemplates::defaults() { return {kPlan, kExtract, kMerge}; }

PromptTemplates PromptTemplates::load(const std::string& path, const PromptTemplates& base) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read the prompt template file " + path);
  PromptTemplates t = base;
  std::string* section = nullptr;
  std::string text;
  int line_no = 0, section_line = 0;
  auto close = [&] {
    if (!section) return;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    while (!text.empty() && text.front() == '\n') text.erase(0, 1);
    const char* const* allowed = section == &t.plan ? kPlanPlaceholders
                                 : section == &t.extract ? kExtractPlaceholders : kMergePlaceholders;
    check_placeholders(text, allowed, path + ":" + std::to_string(section_line));
    if (text.empty()) throw Error(path + ":" + std::to_string(section_line) + ": the section is empty");
    *section = text;
  };
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "[plan]" || line == "[extract]" || line == "[merge]") {
      close();
      section = line == "[plan]" ? &t.plan : line == "[extract]" ? &t.extract : &t.merge;
      section_line = line_no;
      text.clear();
    } else if (!section) {
      if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
      throw Error(path + ":" + std::to_string(line_no) +
                  ": text before the first section; open one with [plan], [extract] or [merge]");
    } else {
      text += line + "\n";
    }
  }
  close();
  return t;
}

std::string PromptTemplates::to_file() const {
  return "[plan]\n" + plan + "\n\n[extract]\n" + extract + "\n\n[merge]\n" + merge + "\n";
}

std::string fill_template(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t pos = 0;
  for (size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", pos)) {
    const size_t end = text.find("}}", at + 2);
    if (end == std::string::npos) break;
    out.append(text, pos, at - pos);
    const std::string name = text.substr(at + 2, end - at - 2);
    auto it = values.find(name);
    if (it == values.end()) throw Error("prompt template: unknown placeholder {{" + name + "}}");
    out += it->second;
    pos = end + 2;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

Json plan_schema(int keywords_n, bool want_questions) {
  Json props = {{"keywords", string_array(1, std::max(1, keywords_n), 100)}};
  Json required = {"keywords"};
  if (want_questions) {
    props["questions"] = string_array(1, 5, 200);
    required.push_back("questions");
  }
  return {{"type", "object"}, {"properties", props}, {"required", required}, {"additionalProperties", false}};
}

Json extract_schema(int questions_n, int facts_n) {
  Json answers = {{"type", "array"}, {"items", text(240)}, {"minItems", questions_n}, {"maxItems", questions_n}};
  return {{"type", "object"},
          {"properties", {{"answers", answers}, {"facts", string_array(0, std::max(0, facts_n), 160)}}},
          {"required", {"answers", "facts"}},
          {"additionalProperties", false}};
}

Json merge_schema(int questions_n, int facts_n, int max_source, bool with_summary) {
  Json props = {
      {"answers", {{"type", "array"}, {"items", cited("answer", 600, max_source)}, {"minItems", questions_n}, {"maxItems", questions_n}}},
      {"facts", {{"type", "array"}, {"items", cited("fact", 240, max_source)}, {"maxItems", std::max(0, facts_n)}}}};
  Json required = {"answers", "facts"};
  if (with_summary) {
    props["summary"] = text(1200);
    required.push_back("summary");
  }
  return {{"type", "object"}, {"properties", props}, {"required", required}, {"additionalProperties", false}};
}

bool is_no_answer(const std::string& answer) {
  std::string a;
  for (unsigned char c : answer)
    if (!std::isspace(c) && c != '.' && c != '"' && c != '\'') a += char(std::tolower(c));
  static const char* const kNone[] = {"",        "noanswer", "n/a",      "na",       "none",     "unknown",
                                      "回答不可", "回答なし", "不明",     "該当なし", "記載なし", "。"};
  for (const char* n : kNone)
    if (a == n) return true;
  return a.rfind("noanswer", 0) == 0 || a.rfind("回答不可", 0) == 0;
}

}  // namespace nagare
