// The web chat at "/" and the dashboard at "/dashboard", with their scripts and styles under
// "/ui/", served from the files embedded in the binary (web_assets.h). "/" is also Ollama's
// liveness probe: clients that do not ask for HTML get "nagare is running", as before.
#pragma once

#include "server/http_types.h"
#include "server/router.h"

namespace nagare {

// serve_pages false (`serve --no-webui`): only the liveness text at "/".
void add_web_routes(Router& router, bool serve_pages);

// The pages and their assets hold nothing secret: they load without an API key and while a model
// loads (the page itself then asks for the key and says that the server is loading).
bool is_public_page(const HttpRequest& request);

}  // namespace nagare
