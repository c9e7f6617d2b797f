// robots.txt per RFC 9309: which paths of a site nagare's fetcher may request. The fetch policy
// (4xx allows all, 5xx or unreachable disallows all, redirects, the per-run cache) is the
// fetcher's; this is the file's meaning.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nagare {

class RobotsRules {
 public:
  // RFC 9309 asks crawlers to parse at least this much; the rest of a larger file is ignored.
  static constexpr size_t kMaxBytes = 500 * 1024;
  // The product token nagare's fetcher looks for in User-agent lines.
  static constexpr std::string_view kProductToken = "nagare";

  // The rules of the group for `product_token` (matched case-insensitively; all groups naming
  // it combined), else of the "*" groups, else none (everything allowed). Never throws: lines
  // that are not rules are skipped, as the RFC asks.
  static RobotsRules parse(std::string_view text, std::string_view product_token = kProductToken);
  static RobotsRules allow_all() { return RobotsRules(); }
  static RobotsRules disallow_all();

  // `path_and_query` is the URL's path with its query ("/a/b?c=d"), percent-encoded or not.
  // The longest matching rule decides, Allow winning a tie; no match allows. /robots.txt itself
  // is always allowed.
  bool allowed(const std::string& path_and_query) const;

 private:
  struct Rule {
    bool allow = false;
    std::vector<std::string> pieces;  // the pattern split at its '*' wildcards, escapes decoded
    bool anchored_end = false;        // the pattern ended in '$'
    size_t length = 0;                // octets of the pattern, for the longest-match rule
  };
  static Rule make_rule(bool allow, std::string_view pattern);
  static bool matches(const Rule& rule, std::string_view path);

  std::vector<Rule> rules_;
};

}  // namespace nagare
