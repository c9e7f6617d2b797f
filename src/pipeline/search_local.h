// --search local:INDEX: the pipeline's search step over a `nagare index` database instead of the
// web; results carry the documents' text, so nothing is fetched.
#pragma once

#include <string>
#include <vector>

#include "pipeline/local_index.h"
#include "pipeline/search_provider.h"

namespace nagare {

class LocalIndexSearch : public SearchProvider {
 public:
  // Opens the index now (never creating it); throws Error naming it when it cannot.
  explicit LocalIndexSearch(const std::string& index_path);
  // Results with url "file://" + the file's absolute path and content its Markdown.
  std::vector<SearchResult> search(const std::string& query, int count) override;
  std::string name() const override { return "local:" + index_.path(); }

 private:
  LocalIndex index_;
};

}  // namespace nagare
