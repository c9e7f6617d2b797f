#include "engine/prompt_lookup.h"

#include <algorithm>

namespace nagare {
namespace {

// The latest start i with haystack[i, i + n) == needle and a token after it; -1 when none. In the
// sequence itself that rules out the suffix being looked up.
int64_t latest_match(std::span<const int32_t> haystack, std::span<const int32_t> needle) {
  const int64_t n = int64_t(needle.size());
  for (int64_t i = int64_t(haystack.size()) - n - 1; i >= 0; --i)
    if (haystack[size_t(i + n - 1)] == needle.back() && std::equal(needle.begin(), needle.end(), haystack.begin() + i))
      return i;
  return -1;
}

}  // namespace

int32_t prompt_lookup_draft(std::span<const int32_t> tokens, std::span<const int32_t> extra,
                            const PromptLookupOptions& o, int32_t max_draft, std::vector<int32_t>& draft) {
  if (max_draft <= 0) return 0;
  const int64_t len = int64_t(tokens.size());
  for (int32_t n = std::min<int32_t>(o.ngram_max, int32_t(len)); n >= std::max(o.ngram_min, 1); --n) {
    const std::span<const int32_t> suffix = tokens.subspan(size_t(len - n));
    for (std::span<const int32_t> source : {extra, tokens}) {
      const int64_t at = latest_match(source, suffix);
      if (at < 0) continue;
      const size_t from = size_t(at + n);
      const size_t count = std::min<size_t>(size_t(max_draft), source.size() - from);
      draft.insert(draft.end(), source.begin() + from, source.begin() + from + count);
      return int32_t(count);
    }
  }
  return 0;
}

}  // namespace nagare
