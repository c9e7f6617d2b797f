// The OpenAI-compatible endpoints (and /health, /v1/engine/stats) for the registry's models, as
// Router handlers. Each completion request leases its model and becomes a CompletionJob driven
// by the HTTP session.
#pragma once

#include "api/model_registry.h"
#include "api/response_cache.h"
#include "server/router.h"
#include "server/serving_state.h"

namespace nagare {

// POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings (EmbeddingsJob), GET
// /v1/models (the pinned model, then the store's), GET /v1/models/{id}. `models` (and `cache`,
// which may be null: no response cache) must outlive the router's use. Completions that went
// through the cache say so in an X-Nagare-Cache header: hit or miss.
void add_openai_routes(Router& router, ModelRegistry& models, ResponseCache* cache = nullptr);

// GET /health -> 200 {"status": "ok"}, or 503 "loading" / "draining" as `state` says (other
// routes but /metrics then get 503 with Retry-After); GET /v1/engine/stats -> the engine's
// counters (for tests and dashboards: running, waiting, KV blocks in use / cached / total, ...):
// of `?model=NAME`, else of the pinned model, else summed over the loaded models. `state` must
// outlive the router's use.
void add_service_routes(Router& router, ModelRegistry& models, const ServingState& state);

}  // namespace nagare
