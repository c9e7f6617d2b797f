// On-disk cache of fetched pages (`--cache-dir`), so a rerun of `nagare extract` or
// `nagare fetch` does not download the same pages again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace nagare {

struct CachedPage {
  std::string url;           // as asked
  std::string final_url;     // after redirects
  long status = 0;           // HTTP status
  std::string content_type;  // the raw Content-Type header value (charset included)
  int64_t fetched_at = 0;    // unix seconds
  std::string body;
};

// One entry per canonical URL, under DIR/<first two hex digits>/<sha256 of canonical_url>: the
// body in ".body", the rest in a ".json" sidecar with the body's size and SHA-256, so an entry
// half written (a crash, two writers) or damaged reads as a miss and is overwritten by the next
// put(). Each file is replaced atomically (temp file and rename); nothing is fsync()ed, since
// a lost entry costs only a download. Which responses are worth caching is the caller's call.
class PageCache {
 public:
  // Creates `dir` when missing; throws nagare::Error when that fails or it is not a directory.
  // Entries older than max_age_s are misses; 0 keeps them forever.
  explicit PageCache(std::string dir, double max_age_s = 0);

  // The entry for `url` (any URL with the same canonical form), if present, whole and fresh.
  // `max_age_s` replaces the cache's own limit for this lookup when given (0: forever).
  std::optional<CachedPage> get(const std::string& url, std::optional<double> max_age_s = std::nullopt) const;
  // Stores `page` under page.url, replacing any entry; fetched_at 0 means now. Returns false when
  // it could not be written: the cache only saves time, so failing to fill it is not an error.
  bool put(const CachedPage& page);

  // sha256 hex of canonical_url(url); throws nagare::Error for a URL that does not parse.
  static std::string key(const std::string& url);
  const std::string& dir() const { return dir_; }

 private:
  std::string entry_path(const std::string& key) const;  // without the extension

  std::string dir_;
  double max_age_s_;
};

}  // namespace nagare
