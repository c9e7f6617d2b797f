// --search urls:FILE: a fixed list of pages for the pipeline, for a corpus chosen by hand
// instead of by a search engine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pipeline/search_provider.h"

namespace nagare {

// The URLs of a list: one a line; blank lines and lines starting with # skipped, surrounding
// white space (and a UTF-8 BOM, CR line ends) ignored, a repeated URL kept once. Throws Error
// naming `who` and the line for a line that is not an http(s) URL.
std::vector<std::string> parse_url_list(std::string_view text, const std::string& who);

// Every search returns the whole list, whatever the query and `count`: the list is the corpus,
// not an answer to one keyword (the pipeline dedupes the same URLs across its keywords).
class UrlListSearch : public SearchProvider {
 public:
  // Reads the file now, so a missing or bad file fails before any work; throws Error naming it.
  explicit UrlListSearch(const std::string& path);
  std::vector<SearchResult> search(const std::string& query, int count) override;
  std::string name() const override { return "urls:" + path_; }

 private:
  std::string path_;
  std::vector<std::string> urls_;
};

}  // namespace nagare
