#include "pipeline/search_local.h"

namespace nagare {

LocalIndexSearch::LocalIndexSearch(const std::string& index_path) : index_(index_path, /*create=*/false) {}

std::vector<SearchResult> LocalIndexSearch::search(const std::string& query, int count) {
  std::vector<SearchResult> out;
  for (LocalIndex::Hit& hit : index_.search(query, count))
    out.push_back(SearchResult{"file://" + hit.path, std::move(hit.title), std::move(hit.snippet), std::move(hit.content)});
  return out;
}

}  // namespace nagare
