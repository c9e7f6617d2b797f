#include "pipeline/search_provider.h"

#include <cstdlib>

#include "pipeline/search_local.h"
#include "pipeline/search_urls.h"
#include "pipeline/search_web.h"
#include "util/ascii.h"
#include "util/error.h"

namespace nagare {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string required_key(const char* variable, const char* provider) {
  std::string key = env(variable);
  if (key.empty())
    throw Error(std::string("--search ") + provider + " needs an API key: set " + variable);
  return key;
}

}  // namespace

std::unique_ptr<SearchProvider> make_search_provider(const std::string& spec, Fetcher& fetcher) {
  const size_t colon = spec.find(':');
  std::string kind = spec.substr(0, colon);
  for (char& c : kind) c = ascii_lower(c);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  auto need_arg = [&](const char* what) {
    if (arg.empty()) throw Error("--search " + kind + ": give " + what + " after the colon: " + kind + ":" + what);
  };
  if (kind == "searxng") {
    need_arg("URL");
    return std::make_unique<SearxngSearch>(arg, fetcher);
  }
  if (kind == "serpapi" && arg.empty()) {
    const std::string endpoint = env("NAGARE_SERPAPI_ENDPOINT");
    return std::make_unique<SerpApiSearch>(required_key("SERPAPI_API_KEY", "serpapi"),
                                           endpoint.empty() ? kSerpApiEndpoint : endpoint, fetcher);
  }
  if (kind == "brave" && arg.empty()) {
    const std::string endpoint = env("NAGARE_BRAVE_ENDPOINT");
    return std::make_unique<BraveSearch>(required_key("BRAVE_API_KEY", "brave"),
                                         endpoint.empty() ? kBraveEndpoint : endpoint, fetcher);
  }
  if (kind == "urls") {
    need_arg("FILE");
    return std::make_unique<UrlListSearch>(arg);
  }
  if (kind == "local") {
    need_arg("INDEX");
    return std::make_unique<LocalIndexSearch>(arg);
  }
  throw Error("--search '" + spec +
              "': give searxng:URL, serpapi (SERPAPI_API_KEY), brave (BRAVE_API_KEY), urls:FILE or local:INDEX");
}

}  // namespace nagare
