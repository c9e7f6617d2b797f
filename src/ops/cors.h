// CORS for browser clients on other origins (a chat page served elsewhere, a notebook): with
// --cors-origin ORIGIN (repeatable; "*" for any), a preflight OPTIONS request from an allowed
// origin is answered 204 with the methods and headers it may use (before any API-key check, as
// browsers send no credentials on preflight), and every response to such an origin carries
// Access-Control-Allow-Origin. Off by default: no CORS header is ever sent.
#pragma once

#include <string>
#include <vector>

#include "server/router.h"

namespace nagare {

void install_cors(Router& router, std::vector<std::string> origins);

}  // namespace nagare
