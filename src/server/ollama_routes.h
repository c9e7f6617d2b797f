// The Ollama-compatible endpoints (/api/generate, /api/chat, /api/tags, /api/show, /api/ps,
// /api/version, GET and HEAD /) as Router handlers, beside the OpenAI ones on the same port.
// Errors on /api/ take Ollama's shape: {"error": "..."}.
#pragma once

#include "api/served_model.h"
#include "server/router.h"

namespace nagare {

// `model` must outlive the router's use.
void add_ollama_routes(Router& router, const ServedModel& model);

}  // namespace nagare
