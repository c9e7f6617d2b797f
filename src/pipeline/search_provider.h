// One interface for the search step of `nagare extract`: web search APIs (SearXNG, SerpApi,
// Brave), a fixed list of URLs, or the local document index, chosen by the --search spec.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace nagare {

class Fetcher;

struct SearchResult {
  std::string url;
  std::string title;
  std::string snippet;
  // For providers that already hold the document (local:), its text as Markdown; the pipeline
  // then does not fetch the URL. Empty for web providers.
  std::string content;
};

class SearchProvider {
 public:
  virtual ~SearchProvider() = default;
  // Up to `count` results for the query, best first. Throws nagare::Error with a message naming
  // the provider and what went wrong (HTTP status and the API's error message, bad JSON, missing key).
  virtual std::vector<SearchResult> search(const std::string& query, int count) = 0;
  virtual std::string name() const = 0;  // e.g. "searxng:http://127.0.0.1:8888"
};

// From the --search spec:
//   "searxng:URL"  a SearXNG instance (its JSON format enabled); a query string on URL, such as
//                  "?language=ja", is passed on with every search.
//   "serpapi"      SerpApi's Google engine; key from SERPAPI_API_KEY.
//   "brave"        the Brave Search API; key from BRAVE_API_KEY.
//   "urls:FILE"    the URLs in FILE, whatever the query (see search_urls.h).
//   "local:INDEX"  a `nagare index` database (see local_index.h).
// A missing key is an Error naming the variable. NAGARE_SERPAPI_ENDPOINT / NAGARE_BRAVE_ENDPOINT
// replace those APIs' endpoints (tests point them at loopback stand-ins). `fetcher` does the HTTP;
// the caller owns it and it outlives the provider.
std::unique_ptr<SearchProvider> make_search_provider(const std::string& spec, Fetcher& fetcher);

}  // namespace nagare
