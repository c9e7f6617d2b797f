// Pull sources: what `nagare pull` accepts (hf.co/OWNER/REPO[:QUANT], hf.co/OWNER/REPO/FILE.gguf,
// an http(s) URL) and the store name each gets; names are checked before anything is fetched.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/model_name.h"

namespace nagare {

// What a pull argument asks for.
struct PullSource {
  enum class Kind { kHubRepo, kHubFile, kUrl };
  Kind kind = Kind::kUrl;
  ModelName name;     // the name the model gets in the store
  std::string owner, repo, quant, file;  // Hugging Face parts (quant may be empty)
  std::string url;    // kUrl
};

// Parses `hf.co/OWNER/REPO[:QUANT]`, `hf.co/OWNER/REPO/FILE.gguf` or an http(s) URL (stored as
// its file name, lower case, without .gguf, tag "latest"). nullopt for anything else (a local
// name, which nothing can pull); throws Error for a malformed one of the three, or another scheme.
std::optional<PullSource> parse_pull_source(std::string_view text);

// Whether a file name ends in ".gguf", in any case.
bool ends_with_gguf(std::string_view name);

}  // namespace nagare
