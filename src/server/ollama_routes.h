// The Ollama-compatible endpoints (/api/generate, /api/chat, /api/embed, /api/embeddings,
// /api/tags, /api/show, /api/ps, /api/version, GET and HEAD /) as Router handlers, beside the
// OpenAI ones on the same port.
// Errors on /api/ take Ollama's shape: {"error": "..."}.
#pragma once

#include "api/model_registry.h"
#include "api/response_cache.h"
#include "server/router.h"

namespace nagare {

// /api/tags lists the pinned model and the store, /api/ps the loaded models. `models` must
// outlive the router's use.
// `cache` (may be null) answers repeated deterministic requests, as on the OpenAI routes.
void add_ollama_routes(Router& router, ModelRegistry& models, ResponseCache* cache = nullptr);

}  // namespace nagare
