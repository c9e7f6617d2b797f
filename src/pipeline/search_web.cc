#include "pipeline/search_web.h"

#include <gumbo.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "pipeline/fetcher.h"
#include "util/error.h"

// Field names follow each API's own documentation:
//  - SearXNG: docs.searxng.org/dev/search_api.html (GET /search, q, format=json, language); the
//    answer's "results" hold "url", "title" and "content" (the snippet).
//  - SerpApi: serpapi.com/search-api and serpapi.com/organic-results (GET /search.json with
//    engine=google, q, num, api_key; "organic_results" hold "link", "title", "snippet"), and
//    serpapi.com/api-status-and-error-codes (errors are {"error": "..."}).
//  - Brave: api-dashboard.search.brave.com/api-reference/web/search/get (GET /res/v1/web/search
//    with q and count (at most 20), the X-Subscription-Token header) and the response objects
//    page (web.results[] with "url", "title", "description").

namespace nagare {

using json = nlohmann::json;

namespace {

void collect_text(const GumboNode* node, std::string& out) {
  if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE || node->type == GUMBO_NODE_CDATA) {
    out += node->v.text.text;
    return;
  }
  if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_DOCUMENT) return;
  if (node->type == GUMBO_NODE_ELEMENT) {
    const GumboTag tag = node->v.element.tag;
    if (tag == GUMBO_TAG_SCRIPT || tag == GUMBO_TAG_STYLE) return;
    if (tag == GUMBO_TAG_BR) out += ' ';
  }
  const GumboVector& children =
      node->type == GUMBO_NODE_DOCUMENT ? node->v.document.children : node->v.element.children;
  for (unsigned i = 0; i < children.length; ++i) collect_text(static_cast<const GumboNode*>(children.data[i]), out);
}

std::string collapse_spaces(const std::string& s) {
  std::string out;
  bool space = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    // U+00A0 (from &nbsp;) counts as a space here: a snippet is read, not laid out.
    const bool nbsp = c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA0;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || nbsp) {
      if (nbsp) ++i;
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += char(c);
  }
  return out;
}

// A string field, "" when it is missing or not a string: the APIs leave fields out freely.
std::string text_field(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

bool is_web_url(const std::string& url) { return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0; }

json parse_body(std::string_view body, const std::string& who) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    std::string start(body.substr(0, 80));
    for (char& c : start)
      if (c == '\n' || c == '\r') c = ' ';
    throw Error(who + ": the answer is not the API's JSON (it starts: '" + start + "')");
  }
  return j;
}

// Appends the results of one JSON array, given how each element names its fields.
// Brave's titles and descriptions are HTML; the others' are plain text, where decoding would eat
// a literal "x<y" or "&copy".
void take_results(const json& items, const char* url_key, const char* title_key, const char* snippet_key,
                  bool is_html, int count, std::vector<SearchResult>& out) {
  if (!items.is_array()) return;
  std::set<std::string> seen;
  for (const json& item : items) {
    if (int(out.size()) >= count) break;
    SearchResult r;
    r.url = text_field(item, url_key);
    if (!is_web_url(r.url) || !seen.insert(r.url).second) continue;
    const std::string title = text_field(item, title_key), snippet = text_field(item, snippet_key);
    r.title = is_html ? html_fragment_text(title) : collapse_spaces(title);
    r.snippet = is_html ? html_fragment_text(snippet) : collapse_spaces(snippet);
    out.push_back(std::move(r));
  }
}

std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
    text.replace(at, secret.size(), "***");
  return text;
}

// The page's body when the API answered 2xx; otherwise an Error with the status, the API's own
// message when it gave one, and `hint` (what usually causes that status with this API).
const std::string& checked_body(const FetchedPage& page, const std::string& who, const std::string& secret,
                                const std::string& hint) {
  const bool success = page.status >= 200 && page.status < 300;
  if (success && page.error.empty()) return page.body;
  if (success || page.status <= 0)  // no answer, or one cut short (too large, timed out)
    throw Error(who + ": the search request failed: " +
                redact(page.error.empty() ? std::string("no answer") : page.error, secret));
  std::string message = who + ": HTTP " + std::to_string(page.status);
  std::string api = api_error_message(page.body);
  if (api.empty() && !page.body.empty() && page.body.size() < 300 && page.body.find('<') == std::string::npos)
    api = collapse_spaces(page.body);  // a short plain-text reason
  if (!api.empty()) message += ": " + redact(api, secret);
  if (!hint.empty()) message += " (" + hint + ")";
  throw Error(message);
}

}  // namespace

std::string html_fragment_text(std::string_view html) {
  if (html.find_first_of("<&") == std::string_view::npos) return collapse_spaces(std::string(html));
  GumboOutput* out = gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size());
  std::string text;
  collect_text(out->document, text);
  gumbo_destroy_output(&kGumboDefaultOptions, out);
  return collapse_spaces(text);
}

std::string api_error_message(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return "";
  auto it = j.find("error");
  if (it == j.end()) {
    // Other JSON error shapes: {"message": "..."} or {"detail": "..."}.
    const std::string m = text_field(j, "message");
    return m.empty() ? text_field(j, "detail") : m;
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    std::string detail = text_field(*it, "detail");
    if (detail.empty()) detail = text_field(*it, "message");
    const std::string code = text_field(*it, "code");
    if (!code.empty()) detail = detail.empty() ? code : detail + " [" + code + "]";
    return detail;
  }
  return "";
}

std::vector<SearchResult> parse_searxng_response(std::string_view body, int count, const std::string& who) {
  const json j = parse_body(body, who);
  auto it = j.find("results");
  if (it == j.end() || !it->is_array())
    throw Error(who + ": the answer has no \"results\" list: is this a SearXNG instance's /search?format=json?");
  std::vector<SearchResult> out;
  take_results(*it, "url", "title", "content", /*is_html=*/false, count, out);
  return out;
}

std::vector<SearchResult> parse_serpapi_response(std::string_view body, int count, const std::string& who) {
  const json j = parse_body(body, who);
  const std::string error = text_field(j, "error");
  if (!error.empty()) {
    // SerpApi reports an empty result page in "error" too; that is an answer, not a failure.
    if (error.find("hasn't returned any results") != std::string::npos) return {};
    throw Error(who + ": " + error);
  }
  std::vector<SearchResult> out;
  if (auto it = j.find("organic_results"); it != j.end())
    take_results(*it, "link", "title", "snippet", /*is_html=*/false, count, out);
  return out;
}

std::vector<SearchResult> parse_brave_response(std::string_view body, int count, const std::string& who) {
  const json j = parse_body(body, who);
  if (text_field(j, "type") == "ErrorResponse" || j.contains("error")) {
    const std::string m = api_error_message(body);
    throw Error(who + ": " + (m.empty() ? std::string("the API answered with an error") : m));
  }
  std::vector<SearchResult> out;
  auto web = j.find("web");
  if (web != j.end() && web->is_object())
    if (auto it = web->find("results"); it != web->end())
      take_results(*it, "url", "title", "description", /*is_html=*/true, count, out);
  return out;
}

// --- SearXNG -------------------------------------------------------------------------------

SearxngSearch::SearxngSearch(const std::string& base_url, Fetcher& fetcher) : spec_url_(base_url), fetcher_(fetcher) {
  if (!is_web_url(base_url))
    throw Error("searxng:" + base_url + ": give the instance's http(s) URL, e.g. searxng:http://127.0.0.1:8888");
  base_ = base_url;
  if (const size_t q = base_.find('?'); q != std::string::npos) {
    extra_params_ = base_.substr(q + 1);
    base_.resize(q);
  }
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (base_.size() >= 7 && base_.compare(base_.size() - 7, 7, "/search") == 0) base_.resize(base_.size() - 7);
}

std::string SearxngSearch::request_url(const std::string& query) const {
  std::string url = base_ + "/search?q=" + percent_encode(query) + "&format=json";
  if (!extra_params_.empty()) url += "&" + extra_params_;
  return url;
}

std::vector<SearchResult> SearxngSearch::search(const std::string& query, int count) {
  if (count <= 0) return {};
  const FetchedPage page = fetcher_.get(request_url(query), {"Accept: application/json"});
  std::string hint;
  if (page.status == 403) hint = "the instance must allow the JSON format: add json to search.formats in its settings.yml";
  if (page.status == 429) hint = "the instance's limiter refused the request: turn server.limiter off for a private instance";
  return parse_searxng_response(checked_body(page, name(), "", hint), count, name());
}

// --- SerpApi -------------------------------------------------------------------------------

SerpApiSearch::SerpApiSearch(const std::string& api_key, const std::string& endpoint, Fetcher& fetcher)
    : key_(api_key), endpoint_(endpoint), fetcher_(fetcher) {}

std::string SerpApiSearch::name() const {
  return endpoint_ == kSerpApiEndpoint ? "serpapi" : "serpapi:" + endpoint_;
}

std::string SerpApiSearch::request_url(const std::string& query, int count) const {
  // Google gives at most 100 results a page; SerpApi passes `num` on.
  return endpoint_ + (endpoint_.find('?') == std::string::npos ? "?" : "&") + "engine=google&q=" +
         percent_encode(query) + "&num=" + std::to_string(std::clamp(count, 1, 100)) + "&api_key=" +
         percent_encode(key_);
}

std::vector<SearchResult> SerpApiSearch::search(const std::string& query, int count) {
  if (count <= 0) return {};
  const FetchedPage page = fetcher_.get(request_url(query, count), {"Accept: application/json"});
  std::string hint;
  if (page.status == 401) hint = "check SERPAPI_API_KEY";
  if (page.status == 429) hint = "the key's hourly limit or monthly searches are used up";
  return parse_serpapi_response(checked_body(page, name(), key_, hint), count, name());
}

// --- Brave ---------------------------------------------------------------------------------

BraveSearch::BraveSearch(const std::string& api_key, const std::string& endpoint, Fetcher& fetcher)
    : key_(api_key), endpoint_(endpoint), fetcher_(fetcher) {}

std::string BraveSearch::name() const { return endpoint_ == kBraveEndpoint ? "brave" : "brave:" + endpoint_; }

std::string BraveSearch::request_url(const std::string& query, int count) const {
  return endpoint_ + (endpoint_.find('?') == std::string::npos ? "?" : "&") + "q=" + percent_encode(query) +
         "&count=" + std::to_string(std::clamp(count, 1, 20));
}

std::vector<SearchResult> BraveSearch::search(const std::string& query, int count) {
  if (count <= 0) return {};
  const FetchedPage page =
      fetcher_.get(request_url(query, count), {"Accept: application/json", "X-Subscription-Token: " + key_});
  std::string hint;
  if (page.status == 401 || page.status == 403 || page.status == 422) hint = "check BRAVE_API_KEY";
  if (page.status == 429) hint = "the key's rate limit or monthly quota is used up";
  return parse_brave_response(checked_body(page, name(), key_, hint), count, name());
}

}  // namespace nagare
