// A model's manifest in the store: which weights blob it uses (by sha256 digest) and what it
// overrides on top of the GGUF — template, system prompt, sampling parameters, messages, license.
// Stored as a small JSON file per name; parsing validates everything, the digest above all,
// since it becomes a file name.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nagare {

struct ManifestMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
  bool operator==(const ManifestMessage&) const = default;
};

// One PARAMETER a Modelfile may set: its name, value type and whether it may repeat.
struct ParameterSpec {
  enum class Kind { kInt, kFloat, kBool, kString };
  const char* name;
  Kind kind;
  bool repeated;  // "stop": every line adds a value
};

// The known parameters (Ollama's names), or nullptr.
const ParameterSpec* find_parameter_spec(std::string_view name);
const std::vector<ParameterSpec>& parameter_specs();

// Converts a Modelfile value to its JSON form (int, float, bool or string); throws Error saying
// which type was expected.
nlohmann::json parse_parameter_value(const ParameterSpec& spec, std::string_view text);

struct Manifest {
  static constexpr int kSchemaVersion = 1;

  std::string weights_digest;  // "sha256:" + 64 lower-case hex digits
  uint64_t weights_size = 0;   // bytes
  std::optional<std::string> template_text;  // a Jinja chat template replacing the GGUF's
  std::optional<std::string> system;         // default system prompt
  std::optional<std::string> license;
  // Sampling and runtime defaults, Ollama-style: {"temperature": 0.7, "num_ctx": 4096,
  // "stop": ["<|im_end|>"]}. Keys are known parameter names (find_parameter_spec); values have
  // the spec's JSON type; repeated ones are arrays. A request's own options win over these.
  nlohmann::json parameters = nlohmann::json::object();
  std::vector<ManifestMessage> messages;  // prepended to every chat
  std::string source;                     // where it came from: a pull source, "file:PATH", "create"
  std::string created;                    // RFC 3339 UTC, e.g. "2026-12-06T10:00:00Z"

  // The weights' hex digest without "sha256:" (what the blob file is named after).
  std::string digest_hex() const;

  std::string to_json() const;
  // Throws Error "<what>: invalid manifest: <problem>".
  static Manifest from_json(std::string_view text, const std::string& what);
};

// True for "sha256:" followed by 64 lower-case hex digits.
bool is_valid_digest(std::string_view digest);

// The current UTC time as RFC 3339 ("2026-12-06T10:00:00Z").
std::string utc_now_rfc3339();

}  // namespace nagare
