#include "pipeline/search_urls.h"

#include <fstream>
#include <set>
#include <sstream>

#include "util/error.h"

namespace nagare {

std::vector<std::string> parse_url_list(std::string_view text, const std::string& who) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<std::string> urls;
  std::set<std::string> seen;
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    if (line[0] == '#') continue;
    const std::string url(line);
    if ((url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) ||
        url.find_first_of(" \t") != std::string::npos)
      throw Error(who + " line " + std::to_string(line_no) + ": '" + url +
                  "' is not an http(s) URL (one URL a line; # starts a comment line)");
    if (seen.insert(url).second) urls.push_back(url);
  }
  return urls;
}

UrlListSearch::UrlListSearch(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(name() + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  urls_ = parse_url_list(text.str(), name());
  if (urls_.empty()) throw Error(name() + ": the file lists no URLs");
}

std::vector<SearchResult> UrlListSearch::search(const std::string&, int) {
  std::vector<SearchResult> out;
  out.reserve(urls_.size());
  for (const std::string& url : urls_) out.push_back(SearchResult{url, "", "", ""});
  return out;
}

}  // namespace nagare
