// How Ollama describes a model: `details` (format, family, parameter size, quantization),
// `model_info` (the GGUF metadata) and the objects of /api/tags and /api/ps, built from the
// model's GGUF file. Shared by the Ollama routes for served and stored models.
#pragma once

#include <cstdint>
#include <string>

#include "api/json_fields.h"
#include "gguf/gguf_file.h"

namespace nagare {

// {"parent_model", "format", "family", "families", "parameter_size", "quantization_level"}.
Json ollama_details(const GgufFile& file);

// The GGUF metadata as a flat object ("general.architecture": "llama", ...). Arrays longer than
// 64 items (the vocabulary) are null unless `verbose`, as Ollama does.
Json ollama_model_info(const GgufFile& file, bool verbose);

// "135M", "1.2B": Ollama's parameter_size from a count of weights.
std::string parameter_size_label(int64_t n_params);

// Ollama accepts "name" and "name:latest" for the same model; compares after dropping ":latest".
bool same_model_name(const std::string& a, const std::string& b);

// A unix time in seconds as RFC 3339 UTC ("2026-12-06T01:02:03Z").
std::string rfc3339(int64_t unix_seconds);

}  // namespace nagare
