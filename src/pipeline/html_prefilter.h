// Prepares a page's HTML for gumbo. Gumbo's tree construction takes time quadratic in the
// number of open elements (100,000 nested <div>s take minutes) and it tokenizes slowly, so a
// hostile page must not reach it as written, and what never renders is cut before it parses.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace nagare {

// `html` without comments and the contents of <script>, <style> and <svg> (their tags stay), and with
// every start tag removed that would open an element deeper than `max_depth`, with the end
// tags that would close it. Depth is counted as a parser would, approximately: void elements,
// elements whose end tag is optional (p, li, td, ...) and raw text do not count, and an end
// tag closes the elements left open inside it.
std::string prefilter_html(std::string_view html, size_t max_depth);

}  // namespace nagare
