// Terminal reports: the summary table of one run (throughput, latency percentiles, failures)
// and the side-by-side comparison of several result files with ratios.
#pragma once

#include <string>
#include <vector>

#include "bench/result.h"

namespace nagare::bench {

// The main table's header, exactly as documented (a concurrency sweep).
inline constexpr const char* kSummaryHeader =
    "| Concurrency | Wall Time (s) | Avg Latency (s) | P95 Latency (s) | Prompt Tokens | Compl Tokens "
    "| Prompt TPS | Compl TPS | Reqs (Succ/Att) |";

std::string format_summary(const BenchResult& r);

// Runs side by side, levels matched by value; ratios against the first run. Throws
// nagare::Error when the runs mix concurrency sweeps and request-rate sweeps.
std::string format_compare(const std::vector<BenchResult>& runs);

// "5" for a concurrency, "2.5" or "inf" for a rate.
std::string format_level(double level);

// A Markdown table with right-aligned columns; cells wider than their header widen the column.
std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace nagare::bench
