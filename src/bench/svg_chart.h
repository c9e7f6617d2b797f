// An SVG chart of one or more runs: completion throughput and latency (mean and p95) against
// concurrency (or request rate), one colored series per run. Self-contained SVG 1.1, no script.
#pragma once

#include <string>
#include <vector>

#include "bench/result.h"

namespace nagare::bench {

// Throws nagare::Error when there is nothing to draw or the runs mix sweep kinds.
std::string render_chart(const std::vector<BenchResult>& runs);

// Escapes text for XML character data and attribute values.
std::string xml_escape(const std::string& s);

// Round axis ticks covering [0, max]: 0, step, 2 step, ... with step in {1, 2, 2.5, 5} x 10^k,
// about target_count of them; integer_steps keeps steps whole (concurrency has no 2.5).
std::vector<double> nice_ticks(double max, int target_count = 5, bool integer_steps = false);

}  // namespace nagare::bench
