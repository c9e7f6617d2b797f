// The OpenAI-compatible endpoints (and /health, /v1/engine/stats) for one served model, as
// Router handlers. Each completion request becomes a CompletionJob driven by the HTTP session.
#pragma once

#include "api/served_model.h"
#include "server/router.h"

namespace nagare {

// POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /v1/models/{id}.
// `model` must outlive the router's use.
void add_openai_routes(Router& router, const ServedModel& model);

// GET /health -> {"status": "ok"}; GET /v1/engine/stats -> the engine's counters (for tests and
// dashboards: running, waiting, KV blocks in use / cached / total, ...).
void add_service_routes(Router& router, const ServedModel& model);

}  // namespace nagare
