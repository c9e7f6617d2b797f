// The files of the web chat and dashboard (web/ in the source tree), embedded in the binary at
// build time by cmake/embed_web.cmake, so the pages work offline with nothing beside the binary.
#pragma once

#include <string_view>
#include <vector>

namespace nagare {

struct WebAsset {
  std::string_view path;   // relative to web/: "index.html", "js/chat.js"
  std::string_view bytes;
};

// Sorted by path.
const std::vector<WebAsset>& web_assets();

}  // namespace nagare
