// The web search APIs behind --search searxng:URL, serpapi and brave: their request URLs, their
// JSON answers (results and error objects) and the providers that fetch them over HTTP.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/search_provider.h"
#include "util/percent_encode.h"

namespace nagare {

// The text of an HTML fragment (Brave marks the query's words in its descriptions with <strong>):
// tags dropped, character references decoded, runs of white space made one space.
std::string html_fragment_text(std::string_view html);

// Each API's answer (an HTTP 2xx body) as results, best first, at most `count`; results without
// an http(s) URL are dropped and a repeated URL kept once. Throw Error starting with `who` when
// the body is not the API's JSON or is its error object.
std::vector<SearchResult> parse_searxng_response(std::string_view body, int count, const std::string& who);
std::vector<SearchResult> parse_serpapi_response(std::string_view body, int count, const std::string& who);
std::vector<SearchResult> parse_brave_response(std::string_view body, int count, const std::string& who);

// The message of an API's JSON error object in a non-2xx answer ("" when the body holds none):
// SerpApi's {"error": "..."}, Brave's {"error": {"detail": "...", "code": "..."}}.
std::string api_error_message(std::string_view body);

// A SearXNG instance's JSON search API (https://docs.searxng.org/dev/search_api.html).
class SearxngSearch : public SearchProvider {
 public:
  // `base_url`: the instance ("http://127.0.0.1:8888", a trailing / or /search is dropped); its
  // query string ("?language=ja") is added to every search.
  SearxngSearch(const std::string& base_url, Fetcher& fetcher);
  std::vector<SearchResult> search(const std::string& query, int count) override;
  std::string name() const override { return "searxng:" + spec_url_; }
  std::string request_url(const std::string& query) const;

 private:
  std::string spec_url_, base_, extra_params_;
  Fetcher& fetcher_;
};

// SerpApi's Google Search API (https://serpapi.com/search-api).
class SerpApiSearch : public SearchProvider {
 public:
  // `endpoint`: "https://serpapi.com/search.json" unless a test points it elsewhere.
  SerpApiSearch(const std::string& api_key, const std::string& endpoint, Fetcher& fetcher);
  std::vector<SearchResult> search(const std::string& query, int count) override;
  std::string name() const override;
  std::string request_url(const std::string& query, int count) const;

 private:
  std::string key_, endpoint_;
  Fetcher& fetcher_;
};

// The Brave Search API's web search (https://api-dashboard.search.brave.com/api-reference/web/search/get).
class BraveSearch : public SearchProvider {
 public:
  BraveSearch(const std::string& api_key, const std::string& endpoint, Fetcher& fetcher);
  std::vector<SearchResult> search(const std::string& query, int count) override;
  std::string name() const override;
  std::string request_url(const std::string& query, int count) const;

 private:
  std::string key_, endpoint_;
  Fetcher& fetcher_;
};

inline constexpr const char* kSerpApiEndpoint = "https://serpapi.com/search.json";
inline constexpr const char* kBraveEndpoint = "https://api.search.brave.com/res/v1/web/search";

}  // namespace nagare
