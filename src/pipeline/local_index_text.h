// Text handling for the local document index: the passages a document is cut into, the terms a
// query is searched by (FTS5 trigram phrases or LIKE patterns), and the snippet of a hit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/utf8.h"

namespace nagare {

// Passage lengths in code points: long enough to hold a fact with its context, short enough that
// BM25 scores the place a term occurs rather than a whole long page.
inline constexpr size_t kPassageMin = 500;
inline constexpr size_t kPassageMax = 1000;

// Markdown cut into passages of about kPassageMin..kPassageMax code points at paragraph
// boundaries (blank lines); a paragraph longer than kPassageMax is cut at sentence ends, else at
// spaces, else anywhere between code points. Nothing but surrounding white space is lost.
std::vector<std::string> split_passages(std::string_view markdown);

struct QueryTerms {
  // FTS5 MATCH phrases, each double-quoted with its quotes doubled, of 3+ code points: the
  // trigram tokenizer finds them as substrings. A CJK term longer than 3 also brings its distinct
  // trigrams, so 東京の人口 still finds 東京都の人口 (by の人口) and ranks the exact text first.
  std::vector<std::string> match;
  // Terms of 1-2 code points (東京, AI), which no trigram can match: searched with LIKE. Single
  // ASCII letters and digits are dropped as noise.
  std::vector<std::string> like;
  // Every kept term as typed, for snippets.
  std::vector<std::string> words;
  bool empty() const { return match.empty() && like.empty(); }
};

// The query's terms: split at white space and punctuation (ASCII and CJK), duplicates dropped
// (ASCII case-insensitively). Never passes FTS5 syntax through: NEAR, AND(, * and " are words.
QueryTerms parse_query(std::string_view query);

// The MATCH expression: the phrases joined with OR; "" when there are none.
std::string match_expression(const QueryTerms& terms);

// A LIKE pattern finding `term` anywhere, with % _ and \ escaped for ESCAPE '\'.
std::string like_pattern(std::string_view term);

// Non-overlapping occurrences of `needle`, ASCII letters compared case-insensitively (as LIKE and
// the trigram tokenizer do).
size_t count_occurrences(std::string_view haystack, std::string_view needle);

// A passage shortened to about `max_code_points` around the first occurrence of a term, white
// space collapsed, "…" marking a cut.
std::string make_snippet(std::string_view passage, const std::vector<std::string>& terms, size_t max_code_points = 300);


}  // namespace nagare
