// ServingState: where the server is in its life — loading its model, ready, or draining after
// SIGTERM — and how many requests it is answering. Shared by the HTTP server (which counts
// requests and drains) and the routes (/health, and refusing work while loading or draining).
#pragma once

#include <atomic>
#include <cstdint>

namespace nagare {

class ServingState {
 public:
  enum class Phase { kLoading, kReady, kDraining };

  Phase phase() const { return phase_.load(); }
  void set_phase(Phase p) { phase_.store(p); }

  // Requests dispatched whose responses have not ended yet.
  int in_flight() const { return in_flight_.load(); }
  void request_started() {
    in_flight_.fetch_add(1);
    started_.fetch_add(1);
  }
  // Requests started since the server began (to see whether any came since a moment).
  uint64_t started_total() const { return started_.load(); }
  void request_ended() { in_flight_.fetch_sub(1); }

  // Open client connections.
  int connections() const { return connections_.load(); }
  void connection_opened() { connections_.fetch_add(1); }
  void connection_closed() { connections_.fetch_sub(1); }

 private:
  std::atomic<Phase> phase_{Phase::kReady};
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> started_{0};
  std::atomic<int> connections_{0};
};

}  // namespace nagare
