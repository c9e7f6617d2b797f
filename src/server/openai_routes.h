// The OpenAI-compatible endpoints (and /health, /v1/engine/stats) for the registry's models, as
// Router handlers. Each completion request leases its model and becomes a CompletionJob driven
// by the HTTP session.
#pragma once

#include "api/model_registry.h"
#include "server/router.h"

namespace nagare {

// POST /v1/chat/completions, POST /v1/completions, GET /v1/models (the pinned model, then the
// store's), GET /v1/models/{id}. `models` must outlive the router's use.
void add_openai_routes(Router& router, ModelRegistry& models);

// GET /health -> {"status": "ok"}; GET /v1/engine/stats -> the engine's counters (for tests and
// dashboards: running, waiting, KV blocks in use / cached / total, ...): of `?model=NAME`, else
// of the pinned model, else summed over the loaded models.
void add_service_routes(Router& router, ModelRegistry& models);

}  // namespace nagare
