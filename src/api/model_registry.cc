#include "api/model_registry.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "api/api_error.h"
#include "api/ollama_models.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/process_memory.h"

namespace nagare {

using Clock = std::chrono::steady_clock;

namespace {

constexpr double kMiB = 1048576.0;

// The KV cache the engine will allocate for `config` (engine.cc's rule), so a model's cost is
// known before its memory is taken.
uint64_t kv_cache_estimate(const ModelConfig& config, const EngineOptions& o) {
  const int32_t block = o.block_size > 0 ? o.block_size : 16;
  const int32_t n_ctx = resolve_context(o.n_ctx, config);
  const int64_t ctx_blocks = (n_ctx + block - 1) / block;
  const int64_t n_blocks = o.kv_cache_bytes ? KvCache::blocks_for_bytes(config, o.kv_cache_bytes, block, o.kv_types)
                                            : std::max<int64_t>(ctx_blocks, 4 * ((2048 + block - 1) / block));
  return uint64_t(n_blocks) * uint64_t(block) * KvCache::bytes_per_token(config, o.kv_types);
}

// The engine options for a store model: the server's, with the manifest's num_ctx (a Modelfile
// PARAMETER) as its context size, as Ollama does; capped at what the model was trained for.
EngineOptions engine_options(EngineOptions o, const Manifest& manifest, const ModelConfig& config, const std::string& name) {
  auto it = manifest.parameters.find("num_ctx");
  if (it == manifest.parameters.end() || !it->is_number_integer()) return o;
  int64_t n = it->get<int64_t>();
  if (n <= 0) return o;
  if (config.n_ctx_train > 0 && n > config.n_ctx_train) {
    std::fprintf(stderr, "nagare: %s: num_ctx %lld is above the model's training context; using %d\n", name.c_str(),
                 static_cast<long long>(n), config.n_ctx_train);
    n = config.n_ctx_train;
  }
  o.n_ctx = int32_t(std::max<int64_t>(n, 16));
  return o;
}

ApiError load_failed(const std::string& name, const std::string& why) {
  return ApiError(500, "model '" + name + "' failed to load: " + why, "server_error", "model", "model_load_failed");
}

// OpenAI's wording; the Ollama routes reword it (code model_not_found) in Ollama's.
ApiError not_found(const std::string& name) { return ApiError::model_not_found(name); }

int64_t unix_now() { return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count(); }

int64_t to_unix(Clock::time_point t) {
  return unix_now() + std::chrono::duration_cast<std::chrono::seconds>(t - Clock::now()).count();
}

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

}  // namespace

LoadedModel::LoadedModel(std::unique_ptr<Engine> engine, std::string name, int64_t created,
                         ServedModel::Overrides overrides, std::optional<StoredModel> stored)
    : engine_(std::move(engine)), stored_(std::move(stored)) {
  served_ = std::make_unique<ServedModel>(std::move(name), *engine_, created, std::move(overrides));
  const size_t kv = size_t(engine_->stats().kv_blocks_total) * engine_->options().block_size *
                    KvCache::bytes_per_token(engine_->model().config(), engine_->options().kv_types);
  size_bytes_ = engine_->model().file().file_size() + kv;
}

LoadedModel::~LoadedModel() = default;  // served_ (which refers to the engine) goes first

namespace {

struct Entry {
  enum class Phase { kLoading, kReady, kFailed };
  std::string key;
  Phase phase = Phase::kLoading;
  std::shared_ptr<LoadedModel> model;
  std::optional<ApiError> error;  // kFailed: what every request sharing the load gets
  uint64_t reserved_bytes = 0;  // while loading: what it will cost, once known
  int active = 0;               // leases held by requests
  double keep_alive_s = 0;
  Clock::time_point last_used{};
  std::optional<Clock::time_point> expires;  // idle: when to unload; nullopt: never
  bool pinned = false;
  uint64_t cost() const { return model ? model->size_bytes() : reserved_bytes; }
};

}  // namespace

struct ModelRegistry::State : std::enable_shared_from_this<ModelRegistry::State> {
  std::unique_ptr<ModelStore> store;
  RegistryOptions options;
  mutable std::mutex mu;
  std::condition_variable load_cv;   // a load finished or failed
  std::condition_variable timer_cv;  // an expiry changed, or stopping
  std::map<std::string, std::shared_ptr<Entry>> entries;
  std::shared_ptr<Entry> pinned;
  bool stopping = false;
  std::thread timer;

  ModelLease lease(const std::shared_ptr<Entry>& e);
  void release(const std::shared_ptr<Entry>& e);
  void fail(const std::shared_ptr<Entry>& e, const ApiError& error);
  // Unloads idle models, least recently used first, until `cost` more fits; they land in
  // `evicted` to be destroyed outside the lock. Throws ApiError when it cannot fit.
  void make_room(const Entry& loading, uint64_t cost, std::vector<std::shared_ptr<LoadedModel>>& evicted);
  void run_timer();
};

namespace {

// Held by every lease; the last copy's end returns the model to the registry.
struct LeaseHold {
  LeaseHold(std::shared_ptr<ModelRegistry::State> s, std::shared_ptr<Entry> e) : state(std::move(s)), entry(std::move(e)) {}
  LeaseHold(const LeaseHold&) = delete;
  LeaseHold& operator=(const LeaseHold&) = delete;
  std::shared_ptr<ModelRegistry::State> state;
  std::shared_ptr<Entry> entry;
  ~LeaseHold() { state->release(entry); }
};

}  // namespace

ModelLease ModelRegistry::State::lease(const std::shared_ptr<Entry>& e) {
  ++e->active;
  e->last_used = Clock::now();
  e->expires.reset();
  auto hold = std::make_shared<LeaseHold>(shared_from_this(), e);
  return ModelLease(hold, e->model.get());
}

void ModelRegistry::State::release(const std::shared_ptr<Entry>& e) {
  std::lock_guard lk(mu);
  if (--e->active > 0 || e->pinned) return;
  e->last_used = Clock::now();
  if (e->keep_alive_s < 0) e->expires.reset();
  else e->expires = e->last_used + seconds(e->keep_alive_s);
  timer_cv.notify_all();
}

void ModelRegistry::State::fail(const std::shared_ptr<Entry>& e, const ApiError& error) {
  std::lock_guard lk(mu);
  e->phase = Entry::Phase::kFailed;
  e->error = error;
  auto it = entries.find(e->key);
  if (it != entries.end() && it->second == e) entries.erase(it);
  load_cv.notify_all();
}

void ModelRegistry::State::make_room(const Entry& loading, uint64_t cost,
                                     std::vector<std::shared_ptr<LoadedModel>>& evicted) {
  const uint64_t budget = options.memory_budget;
  const uint64_t pinned_bytes = pinned ? pinned->cost() : 0;
  if (cost + pinned_bytes > budget)
    throw ApiError(500,
                   "model '" + loading.key + "' needs " + std::to_string(int64_t(cost / kMiB)) + " MiB (weights + KV cache), more than the memory budget of " +
                       std::to_string(int64_t((budget - std::min(budget, pinned_bytes)) / kMiB)) + " MiB leaves (--memory-budget)",
                   "server_error", "model", "model_too_large");
  for (;;) {
    int32_t count = 0;
    uint64_t used = 0;
    Entry* victim = nullptr;
    for (auto& [key, e] : entries) {
      if (e.get() == &loading) continue;
      used += e->cost();
      if (e->pinned) continue;
      ++count;
      if (e->phase == Entry::Phase::kReady && e->active == 0 && (!victim || e->last_used < victim->last_used))
        victim = e.get();
    }
    if (count < options.max_loaded && used + cost <= budget) return;
    // Every other model is serving a request (or loading): waiting here would hold an I/O
    // thread that those very requests may need to finish, so the request is refused instead.
    if (!victim)
      throw ApiError(503,
                     "cannot load model '" + loading.key + "' now: the " + std::to_string(count) +
                         " loaded model(s) are all serving requests and the limits (--max-loaded-models " +
                         std::to_string(options.max_loaded) + ", --memory-budget) leave no room; retry shortly",
                     "server_error", "model", "model_busy");
    std::fprintf(stderr, "nagare: unloading %s (least recently used) to make room for %s\n", victim->key.c_str(),
                 loading.key.c_str());
    evicted.push_back(std::move(victim->model));
    entries.erase(victim->key);
  }
}

void ModelRegistry::State::run_timer() {
  std::unique_lock lk(mu);
  while (!stopping) {
    const auto now = Clock::now();
    std::optional<Clock::time_point> next;
    std::vector<std::shared_ptr<LoadedModel>> gone;
    for (auto it = entries.begin(); it != entries.end();) {
      Entry& e = *it->second;
      if (e.phase != Entry::Phase::kReady || e.pinned || e.active > 0 || !e.expires) {
        ++it;
        continue;
      }
      if (*e.expires <= now) {
        gone.push_back(std::move(e.model));
        it = entries.erase(it);
      } else {
        next = next ? std::min(*next, *e.expires) : *e.expires;
        ++it;
      }
    }
    if (!gone.empty()) {
      lk.unlock();
      for (auto& m : gone) std::fprintf(stderr, "nagare: unloaded %s (keep-alive expired)\n", m->name().c_str());
      gone.clear();  // engines stop here, outside the lock
      lk.lock();
      continue;
    }
    if (next) timer_cv.wait_until(lk, *next);
    else timer_cv.wait(lk);
  }
}

ModelRegistry::ModelRegistry(std::unique_ptr<ModelStore> store, RegistryOptions options)
    : state_(std::make_shared<State>()) {
  state_->store = std::move(store);
  state_->options = options;
  if (state_->options.memory_budget == 0) {
    const size_t machine = physical_memory_bytes();
    state_->options.memory_budget = machine > 0 ? machine : std::numeric_limits<uint64_t>::max();
  }
  state_->options.max_loaded = std::max(state_->options.max_loaded, 1);
  state_->timer = std::thread([s = state_.get()] { s->run_timer(); });
}

void ModelRegistry::shutdown() {
  background_.stop();  // pulls first: they unload the models they replace
  {
    std::lock_guard lk(state_->mu);
    state_->stopping = true;
    state_->timer_cv.notify_all();
  }
  if (state_->timer.joinable()) state_->timer.join();
  std::vector<std::shared_ptr<LoadedModel>> models;
  {
    std::lock_guard lk(state_->mu);
    for (auto& [key, e] : state_->entries)
      if (e->model) models.push_back(e->model);
  }
  for (auto& m : models) m->engine_.reset();
}

ModelRegistry::~ModelRegistry() {
  background_.stop();
  {
    std::lock_guard lk(state_->mu);
    state_->stopping = true;
    state_->timer_cv.notify_all();
  }
  if (state_->timer.joinable()) state_->timer.join();
  // Idle models unload now; leased ones when their last lease goes (LeaseHold keeps the state).
  std::map<std::string, std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lk(state_->mu);
    entries.swap(state_->entries);
    state_->pinned.reset();
  }
}

void ModelRegistry::pin(const std::string& name, std::unique_ptr<Engine> engine, int64_t created,
                        ServedModel::Overrides overrides) {
  auto e = std::make_shared<Entry>();
  e->key = name;
  e->pinned = true;
  e->keep_alive_s = -1;
  e->model = std::make_shared<LoadedModel>(std::move(engine), name, created, std::move(overrides), std::nullopt);
  e->phase = Entry::Phase::kReady;
  std::lock_guard lk(state_->mu);
  state_->entries[name] = e;
  state_->pinned = e;
}

std::optional<std::string> ModelRegistry::canonical_name(const std::string& name) const {
  {
    std::lock_guard lk(state_->mu);
    if (state_->pinned && (name.empty() || same_model_name(name, state_->pinned->key))) return state_->pinned->key;
  }
  if (name.empty()) return std::nullopt;
  try {
    return ModelName::parse(name).display();
  } catch (const Error&) {
    return std::nullopt;
  }
}

ModelLease ModelRegistry::acquire(const std::string& name, std::optional<double> keep_alive, int64_t* load_ns) {
  State& s = *state_;
  if (load_ns) *load_ns = 0;
  if (name.empty() && !pinned()) throw ApiError::invalid("model is required", "model");
  const std::optional<std::string> key = canonical_name(name);
  if (!key) throw not_found(name);
  const auto t0 = Clock::now();
  auto waited = [&] { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(); };

  std::unique_lock lk(s.mu);
  std::shared_ptr<Entry> e;
  bool waited_for_load = false;
  for (;;) {
    auto it = s.entries.find(*key);
    if (it == s.entries.end()) break;
    e = it->second;
    if (e->phase == Entry::Phase::kLoading) {  // another request is loading it: share that load
      waited_for_load = true;
      s.load_cv.wait(lk, [&] { return e->phase != Entry::Phase::kLoading; });
      if (e->phase == Entry::Phase::kFailed) throw *e->error;
      continue;  // ready -- unless already unloaded again: look it up afresh
    }
    if (!e->pinned) e->keep_alive_s = keep_alive.value_or(s.options.keep_alive_s);
    if (load_ns && waited_for_load) *load_ns = std::max<int64_t>(1, waited());
    return s.lease(e);
  }
  if (!s.store) throw not_found(name);
  e = std::make_shared<Entry>();
  e->key = *key;
  e->last_used = Clock::now();
  s.entries[*key] = e;
  lk.unlock();

  // Outside the lock: requests for other models go on meanwhile; this one's twins wait on load_cv.
  std::optional<StoredModel> stored;
  try {
    stored = s.store->find(ModelName::parse(*key));
  } catch (const std::exception& x) {
    const ApiError err = load_failed(*key, x.what());
    s.fail(e, err);
    throw err;
  }
  if (!stored) {
    const ApiError err = not_found(name);
    s.fail(e, err);
    throw err;
  }
  std::fprintf(stderr, "nagare: loading %s from %s\n", key->c_str(), stored->weights_path.c_str());
  std::shared_ptr<LoadedModel> model;
  try {
    std::unique_ptr<Model> m = Model::load(stored->weights_path);
    std::unique_ptr<Tokenizer> tok = Tokenizer::from_gguf(m->file());
    const EngineOptions eo = engine_options(s.options.engine, stored->manifest, m->config(), *key);
    const uint64_t cost = m->file().file_size() + kv_cache_estimate(m->config(), eo);
    std::vector<std::shared_ptr<LoadedModel>> evicted;
    {
      std::lock_guard g(s.mu);
      s.make_room(*e, cost, evicted);
      e->reserved_bytes = cost;
    }
    evicted.clear();  // their engines stop here, outside the lock
    auto engine = std::make_unique<Engine>(std::move(m), std::move(tok), eo);
    ServedModel::Overrides o{stored->manifest.template_text, {stored->manifest.system, {}}};
    for (const ManifestMessage& msg : stored->manifest.messages) o.preset.messages.push_back({msg.role, msg.content});
    model = std::make_shared<LoadedModel>(std::move(engine), *key, unix_now(), std::move(o), *stored);
  } catch (const ApiError& x) {
    s.fail(e, x);
    throw;
  } catch (const std::exception& x) {
    const ApiError err = load_failed(*key, x.what());
    s.fail(e, err);
    std::fprintf(stderr, "nagare: %s\n", err.what());
    throw err;
  }
  std::fprintf(stderr, "nagare: %s loaded (%.1f MiB: weights + KV cache)\n", key->c_str(), model->size_bytes() / kMiB);
  lk.lock();
  e->model = std::move(model);
  e->phase = Entry::Phase::kReady;
  e->keep_alive_s = keep_alive.value_or(s.options.keep_alive_s);
  s.load_cv.notify_all();
  if (load_ns) *load_ns = std::max<int64_t>(1, waited());
  return s.lease(e);
}

std::vector<LoadedModelInfo> ModelRegistry::loaded() const {
  std::lock_guard lk(state_->mu);
  std::vector<LoadedModelInfo> out;
  const auto now = Clock::now();
  for (auto& [key, e] : state_->entries) {
    if (e->phase != Entry::Phase::kReady) continue;
    LoadedModelInfo info;
    info.model = e->model;
    info.busy = e->active > 0;
    if (e->pinned || e->keep_alive_s < 0) info.expires_unix = -1;
    else if (e->active > 0) info.expires_unix = to_unix(now + seconds(e->keep_alive_s));
    else info.expires_unix = e->expires ? to_unix(*e->expires) : -1;
    out.push_back(std::move(info));
  }
  std::stable_sort(out.begin(), out.end(), [](const LoadedModelInfo& a, const LoadedModelInfo& b) {
    return a.model->pinned() > b.model->pinned();
  });
  return out;
}

std::shared_ptr<const LoadedModel> ModelRegistry::pinned() const {
  std::lock_guard lk(state_->mu);
  return state_->pinned ? state_->pinned->model : nullptr;
}

ModelStore* ModelRegistry::store() const { return state_->store.get(); }

bool ModelRegistry::unload(const std::string& name) {
  const std::optional<std::string> key = canonical_name(name);
  if (!key) return false;
  std::lock_guard lk(state_->mu);
  auto it = state_->entries.find(*key);
  if (it == state_->entries.end() || it->second->phase != Entry::Phase::kReady || it->second->pinned) return false;
  Entry& e = *it->second;
  e.keep_alive_s = 0;
  if (e.active == 0) e.expires = Clock::now();
  state_->timer_cv.notify_all();
  return true;
}

}  // namespace nagare
