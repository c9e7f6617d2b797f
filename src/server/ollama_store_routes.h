// The Ollama endpoints that change the model store: POST /api/pull (progress streamed as NDJSON
// objects, as Ollama's), POST /api/create, POST /api/copy, DELETE /api/delete, and
// HEAD /api/blobs/sha256:<hex>. They need a store (nagare serve without -m, or with --store).
// A name they change is unloaded once idle, so its next request sees the new model.
#pragma once

#include "api/model_registry.h"
#include "server/router.h"

namespace nagare {

// `models` must outlive the router's use. Pulls still running when the router is destroyed are
// cancelled and waited for (their partial downloads stay, for a later pull to resume).
void add_ollama_store_routes(Router& router, ModelRegistry& models);

}  // namespace nagare
