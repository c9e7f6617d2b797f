// Causal attention over the paged KV cache, in tiles of query rows and spans of keys.
//
// A tile is up to kTileRows query rows: consecutive tokens of one sequence times the heads of one
// GQA group. Its keys are taken span by span (kSpan positions, aligned to multiples of kSpan);
// within a span each row's softmax is computed as llama.cpp computes attention (scores of the
// query rounded to half, their max, the exponentials and their sum, the weights rounded to half
// before they scale the half-precision values), and the spans' results are then folded in
// position order as flash attention's online softmax does. A row whose keys lie in one span (any
// context up to kSpan tokens) so gets exactly the arithmetic of a plain softmax. Each key and
// value of a span is read from memory once for every row of the tile, and a step with few tiles
// splits its spans over the threads (flash decoding) so that no thread waits on another's GQA
// group. A decode step's tasks take several KV heads at once and read their span block by block,
// so that memory is read in long runs.
//
// Batch invariance: the spans are fixed by the positions alone, and a row's arithmetic (its
// scores, each span's softmax, the fold) never depends on the other rows of its tile, on how
// tokens were grouped into tiles, or on which thread ran which span. So a token's output is the
// same bits in any batch, after any chunking of its prompt and from the prefix cache.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "kernels/ops.h"
#include "kernels/quant.h"
#include "model/model.h"

namespace nagare {
namespace {

// Query rows of one tile: the keys and values of a span are converted once for them all. (A GQA
// group of more heads makes a tile of one token and all of them.)
constexpr int32_t kTileRows = 32;
// Tasks per thread below which a step's spans (and heads) are split over the threads.
constexpr int64_t kTasksPerThread = 4;
// KV heads one task may take together (their rows must also fit its scratch: tile_rows).
constexpr int32_t kMaxKvHeadsPerTask = 16;

// A row's softmax state: the max of its scores so far, the sum of exp(score - max), and (kept
// elsewhere) the output so far, normalized by that sum.
struct RowState {
  float max = -INFINITY;
  float sum = 0.f;  // 0: no key yet
};
static_assert(sizeof(RowState) == 2 * sizeof(float));

int64_t tile_rows(const ModelConfig& c) { return std::max<int64_t>(kTileRows, c.n_head / c.n_head_kv); }

// A task's scratch, carved from its thread's share of the workspace: the rows' queries, their
// scores over a span, their partials (weighted values, then maxes, then sums: span_partials)
// and running states. (A quantized cache's rows also take each query quantized to Q8_0, at most
// 2 bytes an element; a half-precision cache's, a group of eight keys copied.)
struct TaskScratch {
  float *q, *scores, *pa;
  RowState* st;
  uint8_t* q8;
  uint16_t* k_group;
  TaskScratch(float* base, const ModelConfig& c, int64_t span) {
    const int64_t rows = tile_rows(c);
    q = base;
    scores = q + rows * c.head_dim_k;
    pa = scores + rows * span;
    st = reinterpret_cast<RowState*>(pa + rows * (c.head_dim_v + 2));
    std::uninitialized_default_construct_n(st, rows);
    q8 = reinterpret_cast<uint8_t*>(st + rows);
    k_group = reinterpret_cast<uint16_t*>(q8 + rows * c.head_dim_k * 2);
  }
};

// Folds span partials into rows' running states: row r's partial (max m[r], sum l[r] of
// exp(score - m[r]), output a + r * dv: the values weighted by its softmax) into st[r] and its
// output row, for rows of `heads` heads a token: o + (r / heads) * token_stride + (r % heads) * dv.
// One fixed sequence of float operations per row, so its result depends only on its partials and
// their order; a row's first span is taken as it is. The exponentials of all rows are one
// softmax_exp call (elementwise: the same bits as a call per row, exp(d - 0) being exp(d)); a row
// that does not blend takes exp(0), unused, so that no -inf or NaN leaves the call's fast path.
void fold(RowState* st, float* o, int64_t heads, int64_t token_stride, const float* m, const float* l, const float* a,
          int64_t rows, int64_t dv) {
  constexpr int64_t kChunk = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kChunk) {
    const int64_t r1 = std::min(rows, r0 + kChunk);
    float e[2 * kChunk];  // per row that blends: exp(max - mx), exp(m - mx); others exp(0)
    for (int64_t r = r0; r < r1; ++r) {
      const bool blends = l[r] != 0.f && st[r].sum != 0.f;
      const float mx = std::max(st[r].max, m[r]);
      e[2 * (r - r0)] = blends ? st[r].max - mx : 0.f;
      e[2 * (r - r0) + 1] = blends ? m[r] - mx : 0.f;
    }
    softmax_exp(e, 0.0f, 2 * (r1 - r0));
    for (int64_t r = r0; r < r1; ++r) {
      if (l[r] == 0.f) continue;  // no key of this row in the span
      const float* ar = a + r * dv;
      float* out = o + (r / heads) * token_stride + (r % heads) * dv;
      if (st[r].sum == 0.f) {
        st[r] = {m[r], l[r]};
        std::memcpy(out, ar, size_t(dv) * sizeof(float));
        continue;
      }
      const float wo = st[r].sum * e[2 * (r - r0)], wa = l[r] * e[2 * (r - r0) + 1], sum = wo + wa;
      st[r] = {std::max(st[r].max, m[r]), sum};
      blend_in_place(out, wo / sum, ar, wa / sum, dv);
    }
  }
}

}  // namespace

size_t Model::attention_scratch_floats(const ModelConfig& c) {
  // Per thread: the tile's rounded queries, its scores over a span, its partial values, maxes
  // and sums, and its rows' running states.
  return size_t(tile_rows(c)) * (c.head_dim_k + kSpan + c.head_dim_v + 2 + 2 + c.head_dim_k / 2) + size_t(c.head_dim_k) * 4;
}

void Model::attention(const Batch& batch, KvCache& kv, int32_t il, GgmlType out_weight_type, bool decode_step,
                      ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int64_t n = batch.size();
  const int32_t group = c.n_head / c.n_head_kv;
  const int32_t bs = kv.block_size();
  const bool swa = c.layer_uses_swa[il];
  const int64_t dk = c.head_dim_k, dv = c.head_dim_v;
  // A quantized cache: keys and values as rows of their types, a head's rows of a block together;
  // the query meets the keys quantized to Q8_0 (their dot product's format).
  const KvTypes types = kv.types();
  const bool k_quantized = types.k != GgmlType::F16, v_quantized = types.v != GgmlType::F16;
  const int64_t k_head_bytes = kv.key_head_bytes(), v_head_bytes = kv.value_head_bytes();
  const int64_t q8_bytes = k_quantized ? int64_t(row_bytes(GgmlType::Q8_0, dk)) : 0;
  // The layer's blocks of a sequence (a sliding-window layer's, where the cache keeps them apart).
  auto table_of = [&](const BatchSequence& seq) { return kv.layer_in_window(il) ? seq.window_table : seq.block_table; };
  const int64_t o_dim = int64_t(c.n_head) * dv;
  const Layer& L = layers_[il];
  const size_t per_thread = attention_scratch_floats(c);
  auto first_key = [&](int64_t t) { return swa ? std::max(0, batch.positions[t] - c.sliding_window + 1) : 0; };
  auto out_row = [&](int64_t t, int32_t h) { return ws_.attn.data() + (t * c.n_head + h) * dv; };

  // Tiles: runs of consecutive batch tokens of one sequence, as many per tile as keep the tasks
  // enough to share among the threads.
  const int64_t tokens_per_tile_max = std::max<int64_t>(1, kTileRows / group);
  const int64_t want_tiles = (kTasksPerThread * pool.size() + c.n_head_kv - 1) / c.n_head_kv;
  const int64_t tokens_per_tile = std::clamp<int64_t>(n / std::max<int64_t>(1, want_tiles), 1, tokens_per_tile_max);
  auto& tiles = ws_.attn_tiles;
  tiles.clear();
  for (int64_t t = 0; t < n;) {
    AttentionTile tile{t, t, INT32_MAX, -1};
    for (; tile.end < n && tile.end - t < tokens_per_tile && batch.seq[tile.end] == batch.seq[t]; ++tile.end) {
      tile.first_key = std::min(tile.first_key, first_key(tile.end));
      tile.last_key = std::max(tile.last_key, batch.positions[tile.end]);
    }
    tiles.push_back(tile);
    t = tile.end;
  }
  using Heads = AttentionHeads;
  auto whole_group = [&](int32_t g) { return Heads{g, g * group, group}; };
  // The keys of span s that some row of the tile reads: [lo, hi].
  auto span_keys = [&](const AttentionTile& tile, int32_t s, int32_t* lo, int32_t* hi) {
    *lo = std::max(tile.first_key, s * kSpan);
    *hi = std::min(tile.last_key, s * kSpan + kSpan - 1);
  };

  // The keys and values of the tile's span s for the m KV heads of hs (consecutive), asked of
  // memory ahead of their use and all at once, so that the loads overlap each other and the
  // arithmetic.
  auto prefetch_span = [&](const AttentionTile& tile, const Heads* hs, int32_t m, int32_t s) {
    const int32_t g0 = hs[0].g, g1 = hs[m - 1].g;
    const int32_t* table = table_of(batch.sequences[batch.seq[tile.begin]]);
    int32_t lo, hi;
    span_keys(tile, s, &lo, &hi);
    auto prefetch = [](const void* from, const void* to) {
      constexpr int64_t kLine = 64;
      for (const char* p = static_cast<const char*>(from); p < to; p += kLine) __builtin_prefetch(p, 0, 2);
    };
    for (int32_t p = lo; p <= hi;) {
      const int32_t off = p % bs, run = std::min(bs - off, hi - p + 1);
      const int64_t slot = int64_t(table[p / bs]) * bs + off;
      if (k_quantized) {
        prefetch(kv.key_row(il, slot, g0), kv.key_row(il, slot, g1) + run * k_head_bytes);
      } else {
        const uint16_t* keys = kv.key_block(il, table[p / bs]);
        prefetch(keys + int64_t(g0) * dk * bs, keys + int64_t(g1 + 1) * dk * bs);
      }
      prefetch(kv.value_row(il, slot, g0), kv.value_row(il, slot, g1) + run * v_head_bytes);
      p += run;
    }
  };
  // Span s's partials of the tile's rows of the m head sets hs[0..m), each one KV head's: for
  // set k, at part + k * rows * (dv + 2), its rows' weighted values, then their maxes, then their
  // sums (rows with no key in the span get sum 0). w.q holds the sets' queries one after another
  // (gather_queries). Keys and values are read block by block, all sets' heads of a block
  // together: with consecutive KV heads that is one run of memory, which the hardware prefetcher
  // follows (a head's own run in a block is short: 2 KiB for 16 keys of 64 elements).
  auto span_partials = [&](const AttentionTile& tile, const Heads* hs, int32_t m, int32_t s, const TaskScratch& w,
                           float* part) {
    const int32_t nh = hs[0].count;
    const int64_t n_tok = tile.end - tile.begin, rows = n_tok * nh;
    auto q_of = [&](int32_t k) { return w.q + k * rows * dk; };
    auto scores_of = [&](int32_t k) { return w.scores + k * rows * kSpan; };
    auto part_of = [&](int32_t k) { return part + k * rows * (dv + 2); };  // pa; pm at + rows * dv; pl after
    const int32_t* table = table_of(batch.sequences[batch.seq[tile.begin]]);
    int32_t lo, hi;
    span_keys(tile, s, &lo, &hi);
    // Every row's scores against keys [lo, hi], at their offsets from the span's start (a row
    // ignores those outside its own range).
    const int32_t base = s * kSpan;
    if (k_quantized) {
      for (int32_t p = lo; p <= hi;) {  // block by block: a head's keys of a block are consecutive rows
        const int32_t run = std::min(bs - p % bs, hi - p + 1);
        const int64_t slot = int64_t(table[p / bs]) * bs + p % bs;
        for (int32_t k = 0; k < m; ++k)
          attention_scores_quantized(types.k, kv.key_row(il, slot, hs[k].g), k_head_bytes, run, w.q8 + k * rows * q8_bytes,
                                     q8_bytes, rows, dk, c.attn_scale, scores_of(k) + (p - base), kSpan);
        p += run;
      }
    } else {
      // Groups of eight positions from lo rounded down. A group inside one block's row whose
      // keys are all written (up to hi: later slots may be another token's, being written) is
      // read in place, with its neighbours in one call (up to the block's end where there are
      // several sets); any other is first copied, its valid keys only, into a zeroed group of its own.
      const uint16_t* in_place[kSpan / 8];  // set 0's groups; set k's are k's head further on
      const uint16_t* groups[kSpan / 8];
      int32_t n_in_place = 0, first_in_place = 0;
      auto score_in_place = [&] {
        for (int32_t k = 0; k < m && n_in_place > 0; ++k) {
          const int64_t shift = int64_t(hs[k].g - hs[0].g) * dk * bs;
          for (int32_t i = 0; i < n_in_place; ++i) groups[i] = in_place[i] + shift;
          dot_f32_f16_key_groups(q_of(k), rows, dk, groups, n_in_place, bs, dk, c.attn_scale,
                                 scores_of(k) + (first_in_place - base), kSpan);
        }
        n_in_place = 0;
      };
      for (int32_t a = lo & ~7; a <= hi; a += 8) {
        if (bs % 8 == 0 && a + 7 <= hi) {
          if (m > 1 && n_in_place > 0 && a % bs == 0) score_in_place();
          if (n_in_place == 0) first_in_place = a;
          in_place[n_in_place++] = kv.key_block(il, table[a / bs]) + int64_t(hs[0].g) * dk * bs + a % bs;
          continue;
        }
        score_in_place();
        for (int32_t k = 0; k < m; ++k) {
          std::fill(w.k_group, w.k_group + dk * 8, uint16_t(0));
          for (int32_t p = std::max(a, lo); p <= std::min(a + 7, hi); ++p) {
            const uint16_t* key = kv.key_block(il, table[p / bs]) + int64_t(hs[k].g) * dk * bs + p % bs;
            for (int64_t e = 0; e < dk; ++e) w.k_group[e * 8 + (p - a)] = key[e * bs];
          }
          const uint16_t* group = w.k_group;
          dot_f32_f16_key_groups(q_of(k), rows, dk, &group, 1, 8, dk, c.attn_scale, scores_of(k) + (a - base), kSpan);
        }
      }
      score_in_place();
    }
    // Then the tokens' softmaxes and weighted values; tokens with the same key range in one
    // value pass, which converts each value row once for them. A token's keys in this span,
    // and whether the span is its first (where a sink joins):
    struct Range {
      int32_t lo, hi;
      bool first;
      bool operator==(const Range&) const = default;
    };
    auto range = [&](int64_t t) {
      const int32_t f = first_key(t);
      return Range{std::max(lo, f), std::min(hi, batch.positions[t]), std::max(lo, f) == f};
    };
    for (int64_t i = 0; i < n_tok;) {
      const Range rg = range(tile.begin + i);
      int64_t j = i + 1;
      while (j < n_tok && range(tile.begin + j) == rg) ++j;
      const int64_t r0 = i * nh, nr = (j - i) * nh;
      i = j;
      const int32_t r_lo = rg.lo, r_hi = rg.hi;
      for (int32_t k = 0; k < m; ++k) {
        float* pa = part_of(k);
        float *pm = pa + rows * dv, *pl = pm + rows;
        if (r_lo > r_hi) {
          for (int64_t r = r0; r < r0 + nr; ++r) pm[r] = -INFINITY, pl[r] = 0.f;
          continue;
        }
        const int32_t count = r_hi - r_lo + 1;
        // A sink (a learned logit that weighs no value) joins the softmax of a row's first span.
        const bool sink_here = L.sinks && rg.first;
        for (int64_t r = r0; r < r0 + nr; ++r) {
          float* sc = scores_of(k) + r * kSpan + (r_lo - base);
          if (c.attn_softcap > 0) soft_cap(sc, c.attn_softcap, count);
          const float sink = sink_here ? L.sinks[hs[k].first + r % nh] : -INFINITY;
          const float mx = max_f32(sc, count, sink);
          const float sum = softmax_exp(sc, mx, count) + (sink_here ? std::exp(sink - mx) : 0.0f);
          scale_round_fp16(sc, 1.0f / sum, count);  // the weights, rounded to half
          pm[r] = mx;
          pl[r] = sum;
        }
        std::fill(pa + r0 * dv, pa + (r0 + nr) * dv, 0.0f);
      }
      if (r_lo > r_hi) continue;
      // The range's value rows, block by block. Several head sets (a decode step's KV heads,
      // reading memory) take a block's heads one after another, one run of memory; one set
      // collects its blocks for one call, its outputs in registers over the whole span.
      RowRun<uint16_t> runs[kSpan];
      int32_t n_runs = 0;
      for (int32_t p = r_lo; p <= r_hi;) {
        const int32_t off = p % bs, run = std::min(bs - off, r_hi - p + 1);
        const int64_t slot = int64_t(table[p / bs]) * bs + off;
        for (int32_t k = 0; k < m; ++k) {
          float* pa = part_of(k) + r0 * dv;
          const float* w = scores_of(k) + r0 * kSpan + (p - base);
          if (v_quantized) {
            attention_values_quantized(types.v, pa, dv, w, kSpan, nr, kv.value_row(il, slot, hs[k].g), v_head_bytes, run, dv);
          } else if (m > 1) {
            const RowRun<uint16_t> rows{kv.value(il, slot, hs[k].g), run};
            axpy_f16_rows(pa, dv, w, kSpan, nr, &rows, 1, dv, dv);
          } else {
            runs[n_runs++] = {kv.value(il, slot, hs[k].g), run};
          }
        }
        p += run;
      }
      if (n_runs > 0) axpy_f16_rows(part_of(0) + r0 * dv, dv, scores_of(0) + r0 * kSpan + (r_lo - base), kSpan, nr, runs, n_runs, dv, dv);
    }
  };
  // The rows' queries of the head sets hs[0..m) (rounded to half by rotate_and_cache), side by
  // side, set after set; for quantized keys each also quantized to Q8_0.
  auto gather_queries = [&](const AttentionTile& tile, const Heads* hs, int32_t m, TaskScratch& w) {
    const int64_t rows = (tile.end - tile.begin) * hs[0].count;
    for (int32_t k = 0; k < m; ++k)
      for (int64_t t = tile.begin; t < tile.end; ++t) {
        const float* src = ws_.q.data() + (t * c.n_head + hs[k].first) * dk;
        std::copy(src, src + hs[k].count * dk, w.q + (k * rows + (t - tile.begin) * hs[k].count) * dk);
      }
    if (k_quantized)
      for (int64_t r = 0; r < m * rows; ++r) quantize_row(GgmlType::Q8_0, w.q + r * dk, w.q8 + r * q8_bytes, dk);
  };
  // Folds a span's partials (weighted values pa, then maxes, then sums) into the rows' running
  // states and outputs.
  auto fold_rows = [&](const AttentionTile& tile, const Heads& heads, RowState* st, const float* pa) {
    const int64_t rows = (tile.end - tile.begin) * heads.count;
    fold(st, out_row(tile.begin, heads.first), heads.count, o_dim, pa + rows * dv, pa + rows * dv + rows, pa, rows, dv);
  };
  auto span_range = [&](const AttentionTile& tile, int32_t* s0, int32_t* s1) {
    *s0 = tile.first_key / kSpan;
    *s1 = tile.last_key / kSpan + 1;
  };
  // The whole groups of KV heads g .. g + m - 1.
  auto groups_of = [&](int32_t g, int32_t m, Heads* hs) {
    for (int32_t k = 0; k < m; ++k) hs[k] = whole_group(g + k);
  };
  // KV heads a task may take together: as many as divide n_head_kv and whose rows of a tile of
  // `tokens` fit the task's scratch (at most `limit`).
  auto kv_heads_per_task = [&](int64_t tokens, int32_t limit) {
    int32_t m = std::min(limit, c.n_head_kv);
    while (m > 1 && (c.n_head_kv % m != 0 || tokens * group * m > tile_rows(c))) --m;
    return m;
  };
  // A whole tile and the groups of KV heads g .. g + m - 1 in one task: the spans in order, each
  // folded as it is done.
  auto attend = [&](const AttentionTile& tile, int32_t g, int32_t m, int thread) {
    Heads hs[kMaxKvHeadsPerTask];
    groups_of(g, m, hs);
    const int64_t rows = (tile.end - tile.begin) * group;
    TaskScratch w(ws_.attn_scratch.data() + thread * per_thread, c, kSpan);
    gather_queries(tile, hs, m, w);
    int32_t s0, s1;
    span_range(tile, &s0, &s1);
    prefetch_span(tile, hs, m, s0);
    for (int32_t s = s0; s < s1; ++s) {
      if (s + 1 < s1) prefetch_span(tile, hs, m, s + 1);
      span_partials(tile, hs, m, s, w, w.pa);
      for (int32_t k = 0; k < m; ++k) fold_rows(tile, hs[k], w.st + k * rows, w.pa + k * rows * (dv + 2));
    }
  };

  // A token attends to the keys of its sequence's earlier tokens, so those of the batch must
  // be in the cache first: a pass of its own, except in a decode step with tokens enough for
  // whole-token tasks, where each task rotates and stores its own token's.
  const int64_t n_tiles = int64_t(tiles.size());
  const bool row_tasks = decode_step && n >= kTokensPerThreadForRowTasks * pool.size();
  if (row_tasks) {
    // A task attends all heads of one token and then quantizes its row for the output
    // projection while it is in cache, which also saves that projection its own pass.
    ws_.acts.begin({out_weight_type}, ws_.attn.data(), n, o_dim);
    const int32_t m = kv_heads_per_task(1, kMaxKvHeadsPerTask);
    pool.parallel_for(n, [&](int64_t t, int thread) {
      rotate_and_cache(batch, kv, il, t);
      for (int32_t g = 0; g < c.n_head_kv; g += m) attend(tiles[t], g, m, thread);
      ws_.acts.quantize_rows(t, t + 1);
    });
    return;
  }
  pool.parallel_for(n, [&](int64_t t, int) { rotate_and_cache(batch, kv, il, t); });
  const int64_t units = n_tiles * c.n_head_kv;
  if (units >= kTasksPerThread * pool.size()) {
    pool.parallel_for(units, [&](int64_t u, int thread) { attend(tiles[u / c.n_head_kv], int32_t(u % c.n_head_kv), 1, thread); });
    ws_.acts.reset(ws_.attn.data(), n, o_dim);
    return;
  }
  // Few tiles (a decode step of few sequences, a sequence's token and its drafts): one task per
  // span (flash decoding), each span's partials kept, then folded per tile in span order — the
  // same operations in the same order as one task doing it all. Where even that leaves threads
  // idle (one sequence on a model with one KV head), a group's heads are split between tasks too.
  int64_t spans = 0;
  for (const AttentionTile& tile : tiles) {
    int32_t s0, s1;
    span_range(tile, &s0, &s1);
    spans += s1 - s0;
  }
  int32_t parts = 1;
  while (spans * c.n_head_kv * parts < pool.size() && parts < group) {
    do ++parts;
    while (group % parts != 0);
  }
  // And where there are spans enough (or one thread), a task takes a span of several KV heads
  // (all if it can), read block by block (span_partials).
  int32_t kv_per_unit = 1;
  if (parts == 1) {
    int64_t tokens = 0;
    for (const AttentionTile& tile : tiles) tokens = std::max(tokens, tile.end - tile.begin);
    kv_per_unit = kv_heads_per_task(tokens, kMaxKvHeadsPerTask);
    while (kv_per_unit > 1 && pool.size() > 1 && spans * (c.n_head_kv / kv_per_unit) < kTasksPerThread * pool.size())
      kv_per_unit = kv_heads_per_task(tokens, kv_per_unit - 1);
  }
  auto& units_list = ws_.attn_units;
  units_list.clear();
  for (int64_t t = 0; t < n_tiles; ++t)
    for (int32_t g = 0; g < c.n_head_kv; g += kv_per_unit)
      for (int32_t part = 0; part < parts; ++part)
        units_list.push_back({t, {g, g * group + part * (group / parts), group / parts}, kv_per_unit});
  const int64_t n_units = int64_t(units_list.size());
  auto& first_item = ws_.attn_items;   // per unit: its first span task; then the total
  auto& offset = ws_.attn_offsets;     // per unit: where its partials start
  first_item.assign(size_t(n_units) + 1, 0);
  offset.assign(size_t(n_units) + 1, 0);
  auto rows_of = [&](int64_t u) {
    const AttentionTile& tile = tiles[units_list[u].tile];
    return (tile.end - tile.begin) * units_list[u].heads.count;
  };
  for (int64_t u = 0; u < n_units; ++u) {
    int32_t s0, s1;
    span_range(tiles[units_list[u].tile], &s0, &s1);
    first_item[u + 1] = first_item[u] + (s1 - s0);
    offset[u + 1] = offset[u] + (s1 - s0) * units_list[u].kv_heads * rows_of(u) * (dv + 2);
  }
  if (ws_.attn_partials.size() < size_t(offset[n_units])) ws_.attn_partials.resize(size_t(offset[n_units]));
  // A span task's partials, per KV head of its unit: the weighted values of each row, then the
  // maxes, then the sums.
  auto partials = [&](int64_t u, int64_t item, int32_t k) {
    const int64_t rows = rows_of(u);
    return ws_.attn_partials.data() + offset[u] + ((item - first_item[u]) * units_list[u].kv_heads + k) * rows * (dv + 2);
  };
  // A unit's head sets: one part of a group, or whole groups.
  auto unit_heads = [&](const AttentionUnit& unit, Heads* hs) {
    if (unit.kv_heads == 1) hs[0] = unit.heads;
    else groups_of(unit.heads.g, unit.kv_heads, hs);
  };
  pool.parallel_for(first_item[n_units], [&](int64_t item, int thread) {
    const int64_t u = std::upper_bound(first_item.begin(), first_item.end(), item) - first_item.begin() - 1;
    const AttentionUnit& unit = units_list[u];
    const AttentionTile& tile = tiles[unit.tile];
    Heads hs[kMaxKvHeadsPerTask];
    unit_heads(unit, hs);
    int32_t s0, s1;
    span_range(tile, &s0, &s1);
    const int32_t s = s0 + int32_t(item - first_item[u]);
    TaskScratch w(ws_.attn_scratch.data() + thread * per_thread, c, kSpan);
    prefetch_span(tile, hs, unit.kv_heads, s);
    gather_queries(tile, hs, unit.kv_heads, w);
    span_partials(tile, hs, unit.kv_heads, s, w, partials(u, item, 0));
  });
  pool.parallel_for(n_units, [&](int64_t u, int thread) {
    const AttentionUnit& unit = units_list[u];
    const AttentionTile& tile = tiles[unit.tile];
    Heads hs[kMaxKvHeadsPerTask];
    unit_heads(unit, hs);
    TaskScratch w(ws_.attn_scratch.data() + thread * per_thread, c, kSpan);
    for (int32_t k = 0; k < unit.kv_heads; ++k) {
      std::uninitialized_default_construct_n(w.st, rows_of(u));
      for (int64_t item = first_item[u]; item < first_item[u + 1]; ++item) fold_rows(tile, hs[k], w.st, partials(u, item, k));
    }
  });
  ws_.acts.reset(ws_.attn.data(), n, o_dim);
}

}  // namespace nagare
