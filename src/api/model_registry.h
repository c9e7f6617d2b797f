// ModelRegistry: which models the server has loaded. Store models load on first use and are
// leased to requests, so none is unloaded mid-request; idle ones unload when their keep-alive
// expires or, least recently used first, to stay within a count and a memory budget.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/served_model.h"
#include "engine/engine.h"
#include "store/model_store.h"
#include "util/background_tasks.h"

namespace nagare {

struct RegistryOptions {
  EngineOptions engine;           // for every store model; n_ctx 0: min(4096, its training context)
  double keep_alive_s = 300;      // default keep-alive; negative: forever; 0: unload after each request
  int32_t max_loaded = 3;         // store models loaded at once (a pinned model does not count)
  uint64_t memory_budget = 0;     // bytes for every loaded model (file + KV cache); 0: physical memory
};

// One loaded model: its engine and how the API serves it. Immutable once loaded.
class LoadedModel {
 public:
  LoadedModel(std::unique_ptr<Engine> engine, std::string name, int64_t created, ServedModel::Overrides overrides,
              std::optional<StoredModel> stored);
  ~LoadedModel();

  const std::string& name() const { return served_->name(); }
  const ServedModel& served() const { return *served_; }
  const Engine& engine() const { return *engine_; }
  bool pinned() const { return !stored_; }                         // given by -m: never unloaded
  const std::optional<StoredModel>& stored() const { return stored_; }  // store models: name, manifest
  // What it costs while loaded: the weights file plus the KV cache.
  uint64_t size_bytes() const { return size_bytes_; }

 private:
  friend class ModelRegistry;

  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ServedModel> served_;
  std::optional<StoredModel> stored_;
  uint64_t size_bytes_ = 0;
};

// A request's hold on a loaded model: while any copy lives, the model stays loaded. Dropping the
// last copy starts its keep-alive.
using ModelLease = std::shared_ptr<const LoadedModel>;

// What /api/ps shows of one loaded model.
struct LoadedModelInfo {
  std::shared_ptr<const LoadedModel> model;  // keeps it alive while read; not a lease
  int64_t expires_unix = -1;                  // -1: never
  bool busy = false;
};

class ModelRegistry {
 public:
  // `store` may be null: then only the pinned model is served.
  ModelRegistry(std::unique_ptr<ModelStore> store, RegistryOptions options);
  ~ModelRegistry();  // stops the keep-alive timer; models still leased unload with their last lease
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // Serves `engine` as `name` (-m FILE) for as long as the registry lives.
  void pin(const std::string& name, std::unique_ptr<Engine> engine, int64_t created,
           ServedModel::Overrides overrides = {});

  // The model `name` names, loaded first if need be (requests for the same model share one
  // load; loads of other models do not wait for it). `keep_alive` (seconds; nullopt: the
  // default) becomes the model's keep-alive. `load_ns` gets how long this call waited for a load
  // (0 when the model was loaded already). An empty name means the pinned model. Throws ApiError:
  // 404 for a name neither pinned nor in the store, 500 when loading fails, 503 when the limits
  // leave no room because every loaded model is serving a request.
  ModelLease acquire(const std::string& name, std::optional<double> keep_alive, int64_t* load_ns = nullptr);

  // The name a request's model resolves to ("smollm2" -> "smollm2:latest", the pinned alias
  // with or without ":latest"); nullopt when it is not a valid name.
  std::optional<std::string> canonical_name(const std::string& name) const;

  // Loaded (and loading-finished) models, pinned first, then by name.
  std::vector<LoadedModelInfo> loaded() const;
  std::shared_ptr<const LoadedModel> pinned() const;
  // The store (null when serving only -m); the HTTP API's pull, create, copy and delete write it.
  ModelStore* store() const;
  // At server shutdown, once no I/O thread runs: stops the keep-alive timer and every engine,
  // leased or not (requests still held by connections then only cancel their streams).
  void shutdown();

  // Unloads `name` now when it is loaded and idle, else as soon as its last request ends.
  // Returns false when it is not loaded.
  bool unload(const std::string& name);

  // Work on the store that outlives its request (pulls); stopped, cancelled and waited for
  // by shutdown() and the destructor.
  BackgroundTasks& background() { return background_; }

  struct State;  // shared with leases, which may outlive the registry

 private:
  std::shared_ptr<State> state_;
  BackgroundTasks background_;
};

}  // namespace nagare
