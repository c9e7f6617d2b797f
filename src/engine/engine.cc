// The scheduler loop: admit (FCFS) under a per-step token budget, run one forward over decodes
// and prefill chunks together, sample, stream, retire; preempt the latest arrivals (and later
// recompute them) when KV blocks run out.
#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <limits>
#include <list>
#include <mutex>
#include <new>
#include <optional>
#include <thread>

#include "engine/block_manager.h"
#include "engine/draft_model.h"
#include "engine/draft_policy.h"
#include "engine/grammar_compiler.h"
#include "engine/prompt_lookup.h"
#include "engine/sequence.h"
#include "util/error.h"
#include "util/process_memory.h"

namespace nagare {
namespace {

// Positions the draft model catches up on per step (a new sequence's prompt, in chunks).
constexpr int32_t kDraftSyncTokens = 256;

double ms_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

int32_t resolve_context(int32_t n_ctx, const ModelConfig& config) {
  if (n_ctx > 0) return n_ctx;
  return n_ctx == kTrainedContext ? config.n_ctx_train : std::min(config.n_ctx_train, 4096);
}

struct Engine::Impl {
  Impl(std::unique_ptr<Model> m, std::unique_ptr<Tokenizer> t, const EngineOptions& o, std::unique_ptr<Model> draft);
  ~Impl();

  void loop();
  bool step();  // false when there was nothing to do
  void take_incoming();
  void drop_cancelled();
  void schedule();
  void preempt(Sequence& s);
  void emit(Sequence& s, int32_t token, const float* logits);
  struct Finish {
    FinishReason reason;
    std::string error;
  };
  // Samples the sequence's next token from its logits row (masked in place) and takes it: output,
  // stop strings, grammar, limits. Returns how the sequence ends, if this token ends it.
  std::optional<Finish> take_token(Sequence& s, float* row, int32_t& token);
  void propose_drafts();
  void flush_text(Sequence& s);
  void finish(Sequence& s, FinishReason reason, std::string error = "");
  void publish_stats();
  // Logits rows a step may need: one per running sequence, one more per draft token.
  int32_t logit_rows() const { return options.max_running + (options.draft_max > 0 ? options.draft_step_tokens : 0); }

  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  EngineOptions options;
  ThreadPool pool;
  std::unique_ptr<KvCache> kv;
  std::unique_ptr<BlockManager> blocks;
  std::vector<int32_t> eog_tokens;
  std::unique_ptr<DraftModel> draft_model;  // --model-draft, else null
  double draft_cost = 0;                     // a draft model token against a target token
  GrammarCompiler grammars{*tokenizer};

  // Shared with submitters.
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::unique_ptr<Sequence>> incoming;
  bool stopping = false;
  EngineStats published;
  std::vector<LiveRequest> published_live;
  uint64_t next_arrival = 0;

  // Engine thread only.
  std::deque<std::unique_ptr<Sequence>> waiting;
  std::vector<std::unique_ptr<Sequence>> running;  // in arrival order
  std::vector<Sequence*> batch_seqs;
  std::vector<Sequence*> done;  // finished in this step (kept to reuse its memory)
  Batch batch;
  // One row per running sequence. Left uninitialized on purpose: a page becomes resident only
  // once a step writes it, so memory follows the concurrency actually reached (Gemma 3: 1 MiB per
  // row, 32 MiB at the default max_running).
  std::unique_ptr<float[]> logits;
  std::unique_ptr<float[]> hidden;  // embedding requests' hidden states: max_batch_tokens x n_embd
  std::vector<uint64_t> token_mask;  // a constrained sequence's allowed tokens (grammar)
  EngineStats counters;
  std::thread thread;
};

Engine::Impl::Impl(std::unique_ptr<Model> m, std::unique_ptr<Tokenizer> t, const EngineOptions& o,
                   std::unique_ptr<Model> draft)
    : model(std::move(m)), tokenizer(std::move(t)), options(o), pool(o.threads) {
  const ModelConfig& c = model->config();
  options.n_ctx = resolve_context(options.n_ctx, c);
  // An encoder has no positions past its training context (bert's are a learned table).
  if (c.encoder) options.n_ctx = std::min(options.n_ctx, c.n_ctx_train);
  if (!options.pooling) options.pooling = model_pooling(model->file(), c.arch);
  model->use_context(options.n_ctx);
  if (options.block_size <= 0) throw Error("block size must be positive");
  options.max_batch_tokens = std::max(options.max_batch_tokens, 1);
  options.max_running = std::clamp(options.max_running, 1, options.max_batch_tokens);
  options.draft_max = std::max(options.draft_max, 0);
  options.draft_step_tokens = std::max(options.draft_step_tokens, 0);
  const int32_t ctx_blocks = (options.n_ctx + options.block_size - 1) / options.block_size;
  check_kv_types(c, options.kv_types);
  const size_t block_bytes = KvCache::bytes_per_token(c, options.kv_types) * size_t(options.block_size);  // every layer's
  const size_t kv_budget = options.kv_cache_bytes ? options.kv_cache_bytes
                                                  : size_t(std::max(ctx_blocks, 4 * ((2048 + options.block_size - 1) / options.block_size))) * block_bytes;
  const bool any_window = std::find(c.layer_uses_swa.begin(), c.layer_uses_swa.end(), true) != c.layer_uses_swa.end();
  const bool separate_windows = any_window && !c.encoder && !options.swa_full;
  const size_t page_bytes = KvCache::page_bytes(c, options.block_size, options.kv_types);
  const int64_t n_pages = int64_t(kv_budget / page_bytes);
  // One request of the full context: every layer's blocks of it, or with separate windows the
  // full-attention layers' and a window and a step's worth of the sliding-window layers'.
  int64_t one_request = int64_t(ctx_blocks) * c.n_layer;
  if (separate_windows) {
    const int64_t window_layers = std::count(c.layer_uses_swa.begin(), c.layer_uses_swa.end(), true);
    const int32_t window_blocks = std::min(ctx_blocks, (c.sliding_window + options.max_batch_tokens + options.block_size - 2) / options.block_size + 1);
    one_request = int64_t(ctx_blocks) * (c.n_layer - window_layers) + int64_t(window_blocks) * window_layers;
  }
  if (n_pages < one_request)
    throw Error("the KV cache (" + std::to_string(n_pages / c.n_layer) + " blocks of " + std::to_string(options.block_size) +
                " tokens) cannot hold one request of the context size " + std::to_string(options.n_ctx) +
                " (" + std::to_string((one_request + c.n_layer - 1) / c.n_layer) + " blocks); raise --kv-cache-size or lower --ctx-size");
  // The draft model's cache holds as many tokens as the target's would with one table.
  const int32_t n_blocks = int32_t(std::min<int64_t>(n_pages / c.n_layer, std::numeric_limits<int32_t>::max()));
  // Checked up front: the cache's pages become resident only as they are written, so where the
  // kernel overcommits memory a size beyond the machine would be accepted here and killed later.
  const size_t kv_bytes = size_t(n_pages) * page_bytes +
                          (draft ? size_t(n_blocks) * options.block_size * KvCache::bytes_per_token(draft->config()) : 0);
  const size_t logits_bytes = size_t(logit_rows()) * c.n_vocab * sizeof(float);
  const size_t machine = physical_memory_bytes();
  if (machine > 0 && kv_bytes + logits_bytes > machine)
    throw Error("not enough memory for a KV cache of " + std::to_string(kv_bytes >> 20) + " MiB and logits for " +
                std::to_string(options.max_running) + " sequences (this machine has " +
                std::to_string(machine >> 20) + " MiB); lower --kv-cache-size or --max-running");
  try {
    if (separate_windows) {
      kv = KvCache::with_separate_windows(c, n_pages, options.block_size, options.kv_types);
      blocks = std::make_unique<BlockManager>(*kv, options.prefix_cache);
    } else {
      kv = std::make_unique<KvCache>(c, n_blocks, options.block_size, options.kv_types);
      blocks = std::make_unique<BlockManager>(n_blocks, options.block_size, options.prefix_cache);
    }
    logits.reset(new float[size_t(logit_rows()) * c.n_vocab]);
    hidden.reset(new float[size_t(options.max_batch_tokens) * c.n_embd]);
  } catch (const std::bad_alloc&) {
    throw Error("not enough memory for a KV cache of " + std::to_string(kv_bytes >> 20) + " MiB and logits for " +
                std::to_string(options.max_running) + " sequences; lower --kv-cache-size or --max-running");
  }
  for (int32_t id = 0; id < tokenizer->vocab_size(); ++id)
    if (tokenizer->is_end_of_generation(id)) eog_tokens.push_back(id);
  token_mask.assign(size_t(tokenizer->vocab_size() + 63) / 64, 0);
  if (draft) {
    if (c.encoder) throw Error("an embedding model (" + c.arch + ") generates nothing to draft for");
    draft->use_context(options.n_ctx);
    draft_model = std::make_unique<DraftModel>(std::move(draft), *tokenizer, c.arch, n_blocks, options.block_size,
                                               options.draft_step_tokens, options.prefix_cache);
    draft_cost = draft_model->relative_cost(*model);
  }
  counters.kv_blocks_total = blocks->n_blocks();
  published = counters;
  thread = std::thread([this] { loop(); });
}

Engine::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  thread.join();
  RequestStats none;
  for (auto& s : incoming) s->stream->finish(FinishReason::kCancelled, none, "server shutting down");
  for (auto& s : waiting) s->stream->finish(FinishReason::kCancelled, s->stats, "server shutting down");
  for (auto& s : running) s->stream->finish(FinishReason::kCancelled, s->stats, "server shutting down");
}

void Engine::Impl::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || !incoming.empty() || !waiting.empty() || !running.empty(); });
      if (stopping) return;
    }
    try {
      step();
    } catch (const std::exception& e) {
      // A failed step must not take the server down: fail the affected requests, keep serving.
      for (auto& s : running) finish(*s, FinishReason::kError, std::string("internal error: ") + e.what());
      running.clear();
    }
    publish_stats();
  }
}

void Engine::Impl::take_incoming() {
  std::lock_guard<std::mutex> lock(mutex);
  while (!incoming.empty()) {
    waiting.push_back(std::move(incoming.front()));
    incoming.pop_front();
  }
}

void Engine::Impl::finish(Sequence& s, FinishReason reason, std::string error) {
  blocks->release(s.kv_blocks);
  if (draft_model) draft_model->release(s.draft_kv);
  s.stats.completion_tokens = s.n_generated;
  const auto now = SteadyClock::now();
  if (s.n_generated > 0) s.stats.decode_ms = ms_between(s.first_token_at, now);
  s.stream->finish(reason, s.stats, std::move(error));
}

void Engine::Impl::drop_cancelled() {
  const auto now = SteadyClock::now();
  const auto limit = std::chrono::duration<double>(options.request_timeout_s);
  auto cancelled = [&](std::unique_ptr<Sequence>& s) {
    if (s->stream->cancelled()) {
      finish(*s, FinishReason::kCancelled);
      return true;
    }
    if (options.request_timeout_s > 0 && now - s->queued_at > limit) {
      finish(*s, FinishReason::kTimeout);
      return true;
    }
    return false;
  };
  std::erase_if(running, cancelled);
  std::erase_if(waiting, cancelled);
}

void Engine::Impl::preempt(Sequence& s) {
  // Recompute later: drop its KV (its full blocks stay in the prefix cache, so a resumed
  // sequence usually finds most of them again).
  blocks->release(s.kv_blocks);
  if (draft_model) draft_model->release(s.draft_kv);
  s.n_computed = 0;
  s.n_registered_blocks = 0;
  s.chain_hash = 0;
  s.admitted = false;
  counters.preemptions++;
}

void Engine::Impl::schedule() {
  batch.clear();
  batch_seqs.clear();
  int32_t budget = options.max_batch_tokens;

  // 1. Running sequences, oldest first: one decode token each, or their next prefill chunk.
  for (size_t i = 0; i < running.size() && budget > 0;) {
    Sequence& s = *running[i];
    const int32_t take = std::min<int32_t>(int32_t(s.tokens.size()) - s.n_computed, budget);
    blocks->drop_outside_window(s.kv_blocks, s.n_computed);
    if (!blocks->grow(s.kv_blocks, s.n_computed + take)) {
      // Out of KV: preempt the latest arrival (possibly this one) and try again.
      Sequence& victim = *running.back();
      preempt(victim);
      waiting.push_front(std::move(running.back()));
      running.pop_back();
      continue;
    }
    s.scheduled = take;
    budget -= take;
    batch_seqs.push_back(&s);
    ++i;
  }

  // 2. Waiting sequences in arrival order, while budget, sequence slots and blocks last.
  while (!waiting.empty() && budget > 0 && int32_t(running.size()) < options.max_running) {
    Sequence& s = *waiting.front();
    if (!s.admitted) {
      // Reuse cached blocks, but always compute at least the last token (its logits are needed);
      // an embedding computes every token whose hidden state it has not pooled yet.
      // An encoder's states depend on the whole sequence: nothing is reused.
      const int32_t reuse = model->config().encoder ? 0
                            : s.request.embedding   ? s.pooler.reusable_prefix()
                                                    : int32_t(s.tokens.size()) - 1;
      const int32_t hit = blocks->match_prefix(s.tokens, reuse, s.kv_blocks);
      s.n_computed = hit;
      s.stats.cached_prompt_tokens = std::max(s.stats.cached_prompt_tokens, hit);
      s.admitted = true;
      if (s.started_at == SteadyClock::time_point{}) {
        s.started_at = SteadyClock::now();
        s.stats.queued_ms = ms_between(s.queued_at, s.started_at);
        counters.prefix_cache_queries += uint64_t(s.request.prompt.size());
        counters.prefix_cache_hit_tokens += uint64_t(hit);
      }
    }
    // An encoder's prompt runs whole in one step, never chunked (submit checked that it fits the
    // step's budget): it waits for a step with room for all of it.
    if (model->config().encoder && int32_t(s.tokens.size()) - s.n_computed > budget) break;
    const int32_t take = std::min<int32_t>(int32_t(s.tokens.size()) - s.n_computed, budget);
    if (!blocks->grow(s.kv_blocks, s.n_computed + take)) {
      // Wait for blocks to free up, holding none meanwhile.
      blocks->release(s.kv_blocks);
      s.n_computed = 0;
      s.admitted = false;
      break;
    }
    s.scheduled = take;
    budget -= take;
    running.push_back(std::move(waiting.front()));
    waiting.pop_front();
    batch_seqs.push_back(running.back().get());
  }
  // Keep `running` in arrival order so preemption always picks the latest arrival.
  std::sort(running.begin(), running.end(), [](auto& a, auto& b) { return a->arrival < b->arrival; });
  propose_drafts();

  for (Sequence* s : batch_seqs) {
    const int32_t seq_index = int32_t(batch.sequences.size());
    batch.sequences.push_back({s->kv_blocks.table.data(), s->kv_blocks.covered(), s->kv_blocks.window.data()});
    const int32_t n_tokens = int32_t(s->tokens.size());
    for (int32_t i = 0; i < s->scheduled; ++i) {
      const int32_t pos = s->n_computed + i;
      const bool embedding = s->request.embedding.has_value();
      // Past the sequence's tokens come its drafts, each wanting logits like the last token.
      batch.add(pos < n_tokens ? s->tokens[size_t(pos)] : s->draft[size_t(pos - n_tokens)], pos, seq_index,
                !embedding && pos + 1 >= n_tokens, embedding && s->pooler.wants(pos));
    }
  }
}

void Engine::Impl::propose_drafts() {
  if (options.draft_max <= 0) return;
  int32_t step_tokens = 0;
  for (const Sequence* s : batch_seqs) step_tokens += s->scheduled;
  // Prompt lookup first (it costs nothing); the draft model, if any, for the sequences it leaves.
  std::vector<DraftModel::Job> jobs;
  std::vector<Sequence*> drafting;
  for (Sequence* s : batch_seqs) {
    // Only where the machine has compute to spare: a step's cost grows with its tokens, slowly
    // while they are few (the weights are read once for all of them), in step with them after.
    const int32_t room = std::min(options.draft_step_tokens, options.max_batch_tokens) - step_tokens;
    if (room <= 0) break;
    // A decoding sequence: its one scheduled token is the last one it sampled.
    const int32_t n_tokens = int32_t(s->tokens.size());
    if (s->request.embedding || s->scheduled != 1 || s->n_computed + 1 != n_tokens) continue;
    // Drafts are sampled over at most until max_tokens, and their positions stay in the context.
    const int32_t limit = std::min({options.draft_max, room, s->max_tokens - s->n_generated - 1, options.n_ctx - n_tokens});
    const int32_t most = s->lookup_policy.length(limit, options.draft_token_cost);
    s->drafts_from_model = false;
    if (most > 0 && prompt_lookup_draft(s->tokens, s->prediction, options.lookup, most, s->draft) > 0) {
      step_tokens += int32_t(s->draft.size());
      drafting.push_back(s);
      continue;
    }
    s->lookup_policy.fade();
    // A model's draft token costs its forward too.
    const int32_t by_model = draft_model ? s->model_policy.length(limit, options.draft_token_cost + draft_cost) : 0;
    if (by_model <= 0) {
      if (draft_model) s->model_policy.fade();
      continue;
    }
    s->drafts_from_model = true;
    jobs.push_back({&s->tokens, &s->draft_kv, by_model, &s->draft});
    step_tokens += by_model;
    drafting.push_back(s);
  }
  if (!jobs.empty()) draft_model->propose(jobs, kDraftSyncTokens, pool);
  for (Sequence* s : drafting) {
    if (s->draft.empty()) continue;
    if (!blocks->grow(s->kv_blocks, int32_t(s->tokens.size() + s->draft.size()))) {  // never preempts for a draft
      s->draft.clear();
      continue;
    }
    s->scheduled += int32_t(s->draft.size());
  }
}

void Engine::Impl::emit(Sequence& s, int32_t token, const float* row) {
  TokenEvent ev;
  ev.token = token;
  if (s.request.top_logprobs >= 0) {
    ev.top.resize(size_t(s.request.top_logprobs));
    ev.logprob = s.sampler.logprobs(row, token, ev.top);
    // Alternatives a grammar (or min_tokens) masked out could never have been drawn: not listed.
    for (TokenLogprob& t : ev.top)
      if (!std::isfinite(t.logprob)) t.token = -1;
  }
  s.text.clear();
  if (!tokenizer->is_control(token)) s.utf8.push(tokenizer->piece_view(token, false), s.text);
  s.stop.push(s.text, ev.text);
  s.stream->push(std::move(ev));
}

void Engine::Impl::flush_text(Sequence& s) {
  // Text held back (an incomplete character, a possible stop string's start) goes out now.
  std::string tail, out;
  s.utf8.finish(tail);
  s.stop.push(tail, out);
  if (!s.stop.stopped()) s.stop.finish(out);
  if (!out.empty()) s.stream->push(TokenEvent{-1, std::move(out), 0.0f, {}});
}

std::optional<Engine::Impl::Finish> Engine::Impl::take_token(Sequence& s, float* row, int32_t& token) {
  if (s.grammar) {
    // The mask covers the tokenizer's vocabulary; output rows past it (padding) never qualify.
    const int64_t V = model->config().n_vocab;
    const int32_t n_tokens = tokenizer->vocab_size();
    s.grammar->fill_mask(token_mask.data());
    apply_token_mask(token_mask.data(), row, std::min<int32_t>(n_tokens, int32_t(V)));
    for (int64_t id = n_tokens; id < V; ++id) row[id] = -INFINITY;
  }
  // A grammar's complete sentence may end even before min_tokens (its mask then holds only
  // end-of-generation tokens); ignore_eos never overrides a grammar.
  const bool grammar_ends = s.grammar && s.grammar->is_complete();
  const bool allow_eog = (!s.request.ignore_eos && s.n_generated >= s.request.min_tokens) || grammar_ends;
  if (!allow_eog)
    for (int32_t id : eog_tokens) row[id] = -INFINITY;
  token = s.sampler.sample(row, s.tokens);
  if (s.n_generated == 0) {
    s.first_token_at = SteadyClock::now();
    s.stats.prefill_ms = ms_between(s.started_at, s.first_token_at);
  }
  s.n_generated++;
  counters.generated_tokens++;

  if (allow_eog && tokenizer->is_end_of_generation(token)) {
    // The end-of-generation token ends the output without being part of it.
    flush_text(s);
    if (s.grammar && !grammar_ends)  // only when the grammar's stack bound was hit
      return Finish{FinishReason::kError, "the output exceeded the grammar's nesting or ambiguity bound"};
    return Finish{FinishReason::kStop, ""};
  }
  if (s.grammar && !s.grammar->accept_token(token)) {
    flush_text(s);  // cannot happen with the mask applied; never emit what the grammar refuses
    return Finish{FinishReason::kError, "the grammar refused token " + std::to_string(token)};
  }
  s.tokens.push_back(token);
  emit(s, token, row);
  if (s.stop.stopped() || (s.grammar && s.grammar->is_finished())) {
    if (!s.stop.stopped()) flush_text(s);  // the sentence is whole and nothing may follow
    return Finish{FinishReason::kStop, ""};
  }
  if (s.n_generated >= s.max_tokens || int32_t(s.tokens.size()) >= options.n_ctx) {
    flush_text(s);
    return Finish{s.stop.stopped() ? FinishReason::kStop : FinishReason::kLength, ""};
  }
  return std::nullopt;
}

bool Engine::Impl::step() {
  take_incoming();
  drop_cancelled();
  if (running.empty() && waiting.empty()) return false;
  schedule();
  if (batch.size() == 0) return false;

  model->forward(batch, *kv, logits.get(), pool, hidden.get());
  counters.steps++;

  const int64_t V = model->config().n_vocab;
  int64_t row_index = 0, hidden_row = 0;
  done.clear();
  for (Sequence* s : batch_seqs) {
    const bool was_prefill = s->n_computed < int32_t(s->request.prompt.size());
    if (s->request.embedding)
      hidden_row += s->pooler.take(s->n_computed, s->scheduled, hidden.get() + hidden_row * model->config().n_embd);
    const int32_t computed = s->scheduled - int32_t(s->draft.size());  // drafts count once accepted
    s->n_computed += computed;
    if (was_prefill) counters.prompt_tokens += uint64_t(std::min<int32_t>(computed, int32_t(s->request.prompt.size())));
    blocks->register_full_blocks(s->tokens, s->n_computed, s->kv_blocks, s->n_registered_blocks, s->chain_hash);
    if (s->n_computed < int32_t(s->tokens.size())) continue;  // prefill continues next step
    if (s->request.embedding) {  // the prompt is all it runs: its pooled states are the answer
      s->stats.prefill_ms = ms_between(s->started_at, SteadyClock::now());
      s->stream->set_embedding(s->pooler.result(s->request.embedding->normalize));
      finish(*s, FinishReason::kStop);
      done.push_back(s);
      continue;
    }

    // The decode token's row, then one row per draft token: each token is sampled from the
    // target's own logits exactly as without drafts, and the next row counts only while the
    // sampled token is the draft's (its KV then holds the right token at the right place).
    const int32_t n_draft = int32_t(s->draft.size());
    float* rows = logits.get() + row_index * V;
    row_index += 1 + n_draft;
    std::optional<Finish> end;
    int32_t accepted = 0;
    for (int32_t j = 0;; ++j) {
      int32_t token = -1;
      end = take_token(*s, rows + j * V, token);
      if (end || j == n_draft || token != s->draft[size_t(j)]) break;
      ++accepted;
      s->n_computed++;
    }
    if (n_draft > 0) {
      s->stats.draft_tokens += n_draft;
      s->stats.draft_accepted_tokens += accepted;
      counters.draft_tokens += uint64_t(n_draft);
      counters.draft_accepted_tokens += uint64_t(accepted);
      (s->drafts_from_model ? s->model_policy : s->lookup_policy).record(n_draft, accepted);
      s->draft.clear();
    }
    if (draft_model) draft_model->rewind(s->draft_kv, s->tokens, s->n_computed);
    blocks->register_full_blocks(s->tokens, s->n_computed, s->kv_blocks, s->n_registered_blocks, s->chain_hash);
    if (end) {
      finish(*s, end->reason, std::move(end->error));
      done.push_back(s);
    }
  }
  if (!done.empty())
    std::erase_if(running, [&](auto& s) { return std::find(done.begin(), done.end(), s.get()) != done.end(); });
  return true;
}

void Engine::Impl::publish_stats() {
  counters.running = int32_t(running.size());
  counters.kv_blocks_in_use = blocks->blocks_in_use();
  counters.kv_blocks_cached = blocks->blocks_cached();
  std::lock_guard<std::mutex> lock(mutex);
  counters.waiting = int32_t(waiting.size() + incoming.size());
  published = counters;
  // A handful of entries per step (max_running plus the queue), into reused capacity.
  published_live.clear();
  auto add = [&](const Sequence& s, LiveRequest::State state) {
    published_live.push_back({s.arrival, s.request.user, state, s.queued_at, int32_t(s.request.prompt.size()),
                              s.stats.cached_prompt_tokens, s.n_generated});
  };
  for (const auto& s : running)
    add(*s, s->n_computed < int32_t(s->request.prompt.size()) ? LiveRequest::State::kPrefill : LiveRequest::State::kDecode);
  for (const auto& s : waiting) add(*s, LiveRequest::State::kWaiting);
  for (const auto& s : incoming) add(*s, LiveRequest::State::kWaiting);
}

Engine::Engine(std::unique_ptr<Model> model, std::unique_ptr<Tokenizer> tokenizer, const EngineOptions& options,
               std::unique_ptr<Model> draft_model)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(tokenizer), options, std::move(draft_model))) {}

Engine::~Engine() = default;

std::shared_ptr<RequestStream> Engine::submit(GenerateRequest request) {
  using Kind = RequestError::Kind;
  const int32_t n_ctx = impl_->options.n_ctx;
  const int32_t n_prompt = int32_t(request.prompt.size());
  const int32_t n_vocab = impl_->model->config().n_vocab;
  if (n_prompt == 0) throw RequestError(Kind::kInvalid, "prompt", "the prompt is empty");
  for (int32_t t : request.prompt)
    if (t < 0 || t >= n_vocab)
      throw RequestError(Kind::kInvalid, "prompt",
                         "prompt token id " + std::to_string(t) + " is outside the vocabulary (0.." + std::to_string(n_vocab - 1) + ")");
  if (request.min_tokens < 0) throw RequestError(Kind::kInvalid, "min_tokens", "min_tokens must not be negative");
  if (impl_->model->config().encoder) {
    if (!request.embedding)
      throw RequestError(Kind::kInvalid, "model",
                         "this model (" + impl_->model->config().arch + ") is an embedding model: it serves embedding requests only, not completions");
    // Its attention sees the whole prompt at once, so the prompt must fit one step.
    if (n_prompt > impl_->options.max_batch_tokens && n_prompt <= n_ctx)
      throw RequestError(Kind::kInvalid, "prompt",
                         "the prompt is " + std::to_string(n_prompt) + " tokens long; an embedding model embeds a prompt in one step of at most " +
                             std::to_string(impl_->options.max_batch_tokens) + " tokens (raise --max-batch-tokens)");
  }
  // The output that must fit: at least one token (and min_tokens), and all of max_tokens where
  // the API asks for that rule (OpenAI's); otherwise output just stops at the context's end.
  const bool whole_max = request.max_tokens_must_fit && request.max_tokens > 0;
  // An embedding generates nothing: its prompt alone must fit.
  const int32_t need = request.embedding ? 0 : std::max({1, request.min_tokens, whole_max ? request.max_tokens : 0});
  if (int64_t(n_prompt) + need > n_ctx) throw RequestError::context_length(n_ctx, n_prompt, need, whole_max && need == request.max_tokens);
  if (request.top_logprobs > 20) throw RequestError(Kind::kInvalid, "top_logprobs", "top_logprobs must be at most 20");
  try {
    request.sampling.validate();
  } catch (const RequestError&) {
    throw;
  } catch (const Error& e) {
    throw RequestError(Kind::kInvalid, "", e.what());
  }

  std::shared_ptr<const CompiledGrammar> grammar;
  if (request.grammar) {
    try {
      grammar = impl_->grammars.compile(request.grammar);
    } catch (const Error& e) {
      throw RequestError(Kind::kInvalid, "", e.what());
    }
  }

  auto stream = std::make_shared<RequestStream>();
  if (request.embedding && !request.embedding->pooling) request.embedding->pooling = impl_->options.pooling;
  const bool embedding = request.embedding.has_value();  // its sampler never runs: no vocabulary-sized buffers
  auto seq = std::make_unique<Sequence>(std::move(request), stream, embedding ? 1 : impl_->model->config().n_vocab);
  if (embedding) seq->pooler = Pooler(*seq->request.embedding->pooling, n_prompt, impl_->model->config().n_embd);
  if (grammar) seq->grammar.emplace(std::move(grammar));
  if (!seq->request.prediction.empty()) {
    // The prediction is what follows the prompt: led by the prompt's last tokens, it matches the
    // sequence's suffix before anything is generated, and drafts its own start.
    const int32_t lead = std::min(n_prompt, impl_->options.lookup.ngram_max);
    seq->prediction.assign(seq->request.prompt.end() - lead, seq->request.prompt.end());
    seq->prediction.insert(seq->prediction.end(), seq->request.prediction.begin(), seq->request.prediction.end());
  }
  // Output is bounded by the context; max_tokens beyond it ends with finish_reason "length".
  const int32_t room = n_ctx - n_prompt;
  seq->max_tokens = seq->request.max_tokens < 0 ? room : std::min(seq->request.max_tokens, room);
  seq->stats.prompt_tokens = n_prompt;
  if (seq->request.max_tokens == 0) {
    stream->finish(FinishReason::kLength, seq->stats);
    return stream;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    // Requests that will have to wait: those not yet running, less the free running slots
    // (a request the engine has not picked up yet may be about to run).
    const int32_t free_slots = std::max(0, impl_->options.max_running - impl_->published.running);
    const int32_t queued = int32_t(impl_->incoming.size()) + impl_->published.waiting - free_slots;
    if (impl_->options.max_waiting > 0 && queued >= impl_->options.max_waiting)
      throw RequestError(Kind::kOverloaded, "",
                         "the server is busy: " + std::to_string(queued) + " requests are waiting already; retry shortly");
    seq->arrival = impl_->next_arrival++;
    impl_->incoming.push_back(std::move(seq));
  }
  impl_->wake.notify_all();
  return stream;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->published;
}

std::vector<LiveRequest> Engine::live_requests() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->published_live;
}

const Model& Engine::model() const { return *impl_->model; }
const Tokenizer& Engine::tokenizer() const { return *impl_->tokenizer; }
const EngineOptions& Engine::options() const { return impl_->options; }

}  // namespace nagare
