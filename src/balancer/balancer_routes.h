// The routes of `nagare router`: every /v1/ and /api/ request is passed to a worker the
// Balancer chooses (ProxySource), in the API's own error shape when none can answer; plus the
// router's own /health (200 while a worker is healthy), /metrics (its counters, Prometheus
// text) and /workers (list, add, remove at run time).
#pragma once

#include <string>

#include "balancer/balancer.h"
#include "balancer/proxy_source.h"
#include "server/router.h"
#include "server/serving_state.h"

namespace nagare {

// worker_api_key: sent to the workers in place of the client's Authorization ("" passes the
// client's on).
void add_balancer_routes(Router& router, Balancer& balancer, ProxyStats& stats, const ServingState& state,
                         std::string worker_api_key);

}  // namespace nagare
