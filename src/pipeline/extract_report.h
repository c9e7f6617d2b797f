// What `nagare extract` produces: the merged answers and facts, each citing the chunks it rests
// on, the chunks themselves, what was missing and why, and the run's figures per step; written
// as JSON (--json) and Markdown (--md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nagare {

// One chunk of one page: what a citation [n] points at.
struct ReportSource {
  int id = 0;                 // the n of [n], from 1
  std::string url;
  std::string title;
  std::string heading;        // the section the chunk sits in
  int chunk_index = 0;        // within its page, from 0
  int chunk_count = 0;        // chunks of its page
  size_t begin = 0, end = 0;  // byte offsets of the chunk in its page's Markdown
  std::string text;
};

struct CitedItem {
  std::string text;
  std::vector<int> sources;   // ReportSource ids
};

// One extraction call's result for one chunk.
struct ChunkExtraction {
  int source = 0;
  std::vector<std::string> answers;  // one per question; "" where the chunk has no answer
  std::vector<std::string> facts;
  std::string error;                 // why nothing came of it, after the retry
  int attempts = 0;
};

struct StepStats {
  std::string name;
  double ms = 0;
  int items = 0;                     // queries, pages, chunks, calls: what the step counts
  int failures = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct ExtractReport {
  std::string question;
  std::vector<std::string> keywords;
  std::vector<std::string> questions;
  std::string model;                 // the LLM backend
  std::string search;                // the search provider
  std::string summary;
  std::vector<CitedItem> answers;    // one per question; empty text: no source answers it
  std::vector<CitedItem> facts;
  std::vector<ReportSource> sources;
  std::vector<ChunkExtraction> extractions;
  std::vector<std::string> missing;  // what could not be had, and why
  std::vector<StepStats> steps;
  int merge_levels = 0;              // 1: one merge call; more: hierarchical

  // Anything at all came out of the extraction calls (the exit status rests on it).
  bool anything_extracted() const;
};

nlohmann::ordered_json report_json(const ExtractReport& report);
std::string report_markdown(const ExtractReport& report);

}  // namespace nagare
