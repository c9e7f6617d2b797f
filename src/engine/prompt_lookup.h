// Prompt-lookup drafting (n-gram speculation): the tokens that followed the latest earlier
// occurrence of the sequence's last n tokens are proposed as its next tokens. Answers that quote
// their input (extraction, editing, code changes) repeat long runs of it, and a proposal costs no
// model: the target verifies the drafts in one forward (see Engine's speculation).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nagare {

struct PromptLookupOptions {
  int32_t ngram_min = 2;  // shortest suffix that may match (shorter ones match by chance)
  int32_t ngram_max = 4;  // longest suffix tried first: a longer match predicts better
};

// Appends to `draft` up to max_draft tokens that followed the most recent earlier occurrence of
// the last n tokens of `tokens`, for n from ngram_max down to ngram_min; `extra` (a predicted
// output the client sent) is searched first, then `tokens` itself. Returns how many it appended.
int32_t prompt_lookup_draft(std::span<const int32_t> tokens, std::span<const int32_t> extra,
                            const PromptLookupOptions& o, int32_t max_draft, std::vector<int32_t>& draft);

}  // namespace nagare
