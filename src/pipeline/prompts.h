// The pipeline's three prompts (plan the research, extract from one chunk, merge the
// extractions) and the JSON Schemas their answers are constrained to. The prompt texts are
// templates with {{name}} placeholders; --prompt-template replaces any of them.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace nagare {

struct PromptTemplates {
  std::string plan;
  std::string extract;
  std::string merge;

  static PromptTemplates defaults();
  // A file of sections, each opened by a line "[plan]", "[extract]" or "[merge]"; a section
  // given replaces that default. Throws Error naming the file and line for an unknown section
  // or a section that uses a placeholder its step does not have.
  static PromptTemplates load(const std::string& path, const PromptTemplates& base);
  // The templates as such a file (`nagare extract --print-templates`).
  std::string to_file() const;
};

// {{name}} replaced by values.at(name); an unknown name throws Error.
std::string fill_template(const std::string& text, const std::map<std::string, std::string>& values);

// The placeholders each step fills.
extern const char* const kPlanPlaceholders[];     // question, keywords_n
extern const char* const kExtractPlaceholders[];  // question, questions, facts_n, url, title, heading, text
extern const char* const kMergePlaceholders[];    // question, questions, facts_n, notes

// Output schemas: search queries and questions; one chunk's answers (one string per question,
// "no answer" when the text has none) and facts; a merge's answers and facts, each citing source
// numbers between 1 and max_source.
nlohmann::ordered_json plan_schema(int keywords_n, bool want_questions);
nlohmann::ordered_json extract_schema(int questions_n, int facts_n);
nlohmann::ordered_json merge_schema(int questions_n, int facts_n, int max_source, bool with_summary);

// True for an answer that says the text has none ("no answer", "回答不可", "", ...).
bool is_no_answer(const std::string& answer);

}  // namespace nagare
