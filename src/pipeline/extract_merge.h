// The merge step of `nagare extract`: the notes of every chunk reconciled into one answer per
// question and a list of facts, each citing its chunks. When the notes do not fit one call, they
// are merged in groups and the groups' results merged again (hierarchically).
#pragma once

#include <string>
#include <vector>

#include "pipeline/extract_report.h"
#include "pipeline/extract_trace.h"
#include "pipeline/llm_backend.h"
#include "pipeline/prompts.h"

namespace nagare {

// One thing a chunk (or a partial merge) said: an answer to a question, or a fact.
struct MergeNote {
  int question = -1;          // 0-based; -1: a fact
  std::string text;
  std::vector<int> sources;   // ReportSource ids
};

struct MergeInput {
  std::string question;
  std::vector<std::string> questions;
  std::vector<MergeNote> notes;
  int max_source = 0;         // the highest source id
  int report_facts = 12;
  int max_tokens = 1536;
  int parallel = 1;
  float temperature = 0.0f;
  uint64_t seed = 0;
};

struct MergeOutput {
  std::string summary;
  std::vector<CitedItem> answers;  // one per question
  std::vector<CitedItem> facts;
  int levels = 0;
  int calls = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  std::vector<std::string> problems;  // what went wrong, for the report's "missing"
};

MergeOutput merge_notes(const MergeInput& input, const std::string& merge_template, LlmBackend& llm,
                        ExtractTrace& trace);

// The notes as the merge prompt lists them: by question, then the facts, each with "[3, 5]".
std::string render_notes(const std::vector<MergeNote>& notes, size_t questions_n);

// Sources for a sentence the model wrote without citing any: the notes it shares most character
// bigrams with (at least 30% of its own), so no claim in the report is left unsourced when
// a note plainly backs it. Empty when none does.
std::vector<int> attribute_sources(const std::string& text, const std::vector<MergeNote>& notes);

// A model's JSON answer, leniently: code fences and text around the object are ignored.
// Null when there is no JSON object in it.
nlohmann::ordered_json parse_json_answer(const std::string& text);

}  // namespace nagare
