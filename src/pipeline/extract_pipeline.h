// `nagare extract`: from a question to a sourced report. Plan search queries and questions,
// search, fetch and clean the pages, cut them into chunks, extract answers and facts from every
// chunk concurrently (one continuous batch on the engine), and merge them into one report.
#pragma once

#include <string>
#include <vector>

#include "pipeline/chunker.h"
#include "pipeline/extract_progress.h"
#include "pipeline/extract_report.h"
#include "pipeline/fetcher.h"
#include "pipeline/llm_backend.h"
#include "pipeline/prompts.h"
#include "pipeline/search_provider.h"

namespace nagare {

struct ExtractOptions {
  std::string question;
  int keywords_n = 3;                   // queries the model proposes
  std::vector<std::string> keywords;    // given: the model proposes none
  std::vector<std::string> questions;   // given: the model proposes none
  int per_query = 3;                    // results kept per query
  ChunkOptions chunking;
  int facts_n = 3;                      // facts per chunk
  int report_facts = 12;                // facts in the merged report
  int max_chunks = 400;                 // chunks extracted at most (the rest is reported missing)
  int parallel = 0;                     // calls in flight; 0: the backend's default
  int plan_max_tokens = 256;
  int extract_max_tokens = 1024;
  int merge_max_tokens = 1536;
  float temperature = 0.0f;
  uint64_t seed = 0;
  PromptTemplates templates = PromptTemplates::defaults();
  std::string trace_path;               // "" : no trace
};

// Runs the pipeline. Throws Error only when it cannot start (a question over the context, an
// unwritable trace file); every later failure (no results, pages that fail, a chunk the model
// answers with nonsense) is recorded in the report's `missing`.
ExtractReport run_extract(const ExtractOptions& options, LlmBackend& llm, SearchProvider& search, Fetcher& fetcher,
                          ExtractProgress& progress);

}  // namespace nagare
