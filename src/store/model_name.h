// Model names in the store, `[host/][namespace/]name[:tag]`: parsed, validated (nothing that
// could act as a path — `..`, `/` at the start, `\`, NUL, control characters — gets past parse())
// and normalised, so every name maps to exactly one manifest file inside the store.
#pragma once

#include <string>
#include <string_view>

namespace nagare {

struct ModelName {
  static constexpr const char* kDefaultHost = "local";
  static constexpr const char* kDefaultNamespace = "library";
  static constexpr const char* kDefaultTag = "latest";
  static constexpr const char* kHuggingFaceHost = "hf.co";

  std::string host = kDefaultHost;     // lower case; may carry a port ("localhost:5000")
  std::string ns = kDefaultNamespace;  // namespace, e.g. a Hugging Face owner
  std::string name;                    // e.g. "smollm2" or a Hugging Face repository
  std::string tag = kDefaultTag;       // e.g. "135m", "Q4_K_M"

  // Parses `name`, `name:tag`, `ns/name[:tag]` or `host/ns/name[:tag]`; "huggingface.co" is
  // spelled "hf.co". Throws Error saying what is wrong (the offending text escaped) and what a
  // name looks like.
  static ModelName parse(std::string_view text);

  // The short form `ollama list` would print: "smollm2:latest", "me/smollm2:latest",
  // "hf.co/owner/repo:Q4_K_M".
  std::string display() const;
  // host/ns/name/tag: where the manifest lives under <store>/manifests.
  std::string manifest_relpath() const;

  bool is_hugging_face() const { return host == kHuggingFaceHost; }
  bool operator==(const ModelName&) const = default;
};

// True for a character allowed in a name, namespace or tag ([A-Za-z0-9_.-]).
bool is_model_name_char(char c);

// A string made printable for an error message: quoted, control bytes and quotes escaped, cut
// at 120 bytes.
std::string quote_for_message(std::string_view s);

}  // namespace nagare
