// The encoder architectures (bert, nomic-bert): their weights and their forward pass, as
// llama.cpp builds them (build_bert): embeddings plus token type 0 (plus absolute positions for
// bert), a LayerNorm, then per layer attention over the whole sequence and an FFN, each followed
// by its residual add and a LayerNorm. Kept apart from the decoders' pass, which it shares
// nothing hot with; it runs only for embeddings.
#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "model/weight_lookup.h"
#include "util/error.h"

namespace nagare {
namespace {

template <typename T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

void Model::bind_encoder_weights() {
  const GgufFile& f = *file_;
  const ModelConfig& c = config_;
  const int64_t d = c.n_embd;
  const WeightLookup lookup(f);
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) { return lookup.matrix(name, rows, cols); };
  auto vec = [&](const std::string& name, int64_t n) { return lookup.vec(name, n); };
  auto optional_vec = [&](const std::string& name, int64_t n) { return lookup.optional_vec(name, n); };
  const auto row_range = &WeightLookup::row_range;

  // Token type 0 ("sentence A") is added to every token, as llama.cpp does.
  type_row_.assign(size_t(d), 0.0f);
  if (const GgufTensor* types = f.find_tensor("token_types.weight")) {
    if (types->dims.size() != 2 || types->dims[0] != d || !is_supported_weight_type(types->type))
      throw Error(f.path() + ": tensor 'token_types.weight' has shape [" + WeightLookup::dims(*types) + "] or type unsupported");
    dequantize_row(types->type, types->data, type_row_.data(), d);
  }
  if (c.arch == "bert") {
    pos_embd_ = &f.tensor("position_embd.weight");
    if (pos_embd_->dims.size() != 2 || pos_embd_->dims[0] != d || pos_embd_->dims[1] < c.n_ctx_train ||
        !is_supported_weight_type(pos_embd_->type))
      throw Error(f.path() + ": tensor 'position_embd.weight' has shape [" + WeightLookup::dims(*pos_embd_) + "], expected [" +
                  std::to_string(d) + " x " + std::to_string(c.n_ctx_train) + "]");
  } else {
    ropes_[0] = Rope(c.rope_dims, c.rope_base, c.rope_scale, c.rope_style, nullptr, c.yarn);
    rope_used_[0] = true;
  }
  embd_norm_ = vec("token_embd_norm.weight", d);
  embd_norm_b_ = vec("token_embd_norm.bias", d);

  const int64_t qd = int64_t(c.n_head) * c.head_dim_k;
  layers_.resize(c.n_layer);
  for (int32_t il = 0; il < c.n_layer; ++il) {
    Layer& L = layers_[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    if (f.find_tensor(p + "attn_qkv.weight")) {
      const WeightMatrix qkv = matrix(p + "attn_qkv.weight", 3 * qd, d);
      L.wq = row_range(qkv, 0, qd);
      L.wk = row_range(qkv, qd, qd);
      L.wv = row_range(qkv, 2 * qd, qd);
      if (const float* b = optional_vec(p + "attn_qkv.bias", 3 * qd)) {
        L.bq = b;
        L.bk = b + qd;
        L.bv = b + 2 * qd;
      }
    } else {
      L.wq = matrix(p + "attn_q.weight", qd, d);
      L.wk = matrix(p + "attn_k.weight", qd, d);
      L.wv = matrix(p + "attn_v.weight", qd, d);
      L.bq = optional_vec(p + "attn_q.bias", qd);
      L.bk = optional_vec(p + "attn_k.bias", qd);
      L.bv = optional_vec(p + "attn_v.bias", qd);
    }
    L.wo = matrix(p + "attn_output.weight", d, qd);
    L.bo = optional_vec(p + "attn_output.bias", d);
    L.post_attn_norm = vec(p + "attn_output_norm.weight", d);
    L.post_attn_norm_b = vec(p + "attn_output_norm.bias", d);
    if (c.arch == "nomic-bert") L.gate = matrix(p + "ffn_gate.weight", c.n_ff, d);
    L.up = matrix(p + "ffn_up.weight", c.n_ff, d);
    L.up_b = optional_vec(p + "ffn_up.bias", c.n_ff);
    L.down = matrix(p + "ffn_down.weight", d, c.n_ff);
    L.down_b = optional_vec(p + "ffn_down.bias", d);
    L.post_ffn_norm = vec(p + "layer_output_norm.weight", d);
    L.post_ffn_norm_b = vec(p + "layer_output_norm.bias", d);
  }
}

void Model::forward_encoder(const Batch& batch, float* hidden, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int64_t n = batch.size(), d = c.n_embd, n_ff = c.n_ff;
  const int32_t H = c.n_head, hd = c.head_dim_k;
  const int64_t qd = int64_t(H) * hd;
  if (batch.n_logits() > 0) throw Error("an encoder model computes embeddings only, not logits");
  if (batch.n_hidden() > 0 && (hidden == nullptr || int64_t(batch.want_hidden.size()) != n))
    throw Error("the batch asks for hidden states but gives no room for them");
  // Each sequence whole and in order: the tokens [first[s], first[s] + count[s]) of the batch at
  // positions 0, 1, ...; every token attends to all of them.
  std::vector<int64_t> first(batch.sequences.size(), -1), count(batch.sequences.size(), 0);
  int64_t max_keys = 1;
  for (int64_t t = 0; t < n; ++t) {
    if (batch.tokens[t] < 0 || batch.tokens[t] >= c.n_vocab) throw Error("token id " + std::to_string(batch.tokens[t]) + " is outside the vocabulary");
    const int32_t s = batch.seq[t];
    if (s < 0 || size_t(s) >= batch.sequences.size()) throw Error("batch token names no sequence");
    if (first[s] < 0) first[s] = t;
    if (batch.positions[t] != count[s] || t != first[s] + count[s])
      throw Error("an encoder needs each sequence whole in one batch, its tokens in position order");
    if (batch.positions[t] >= c.n_ctx_train)
      throw Error("position " + std::to_string(batch.positions[t]) + " is beyond the model's context of " + std::to_string(c.n_ctx_train));
    max_keys = std::max(max_keys, ++count[s]);
  }
  ws_.reserve(c, n, 0, pool.size());
  float* x = ws_.x.data();
  float* q = ws_.q.data();
  float* k = ws_.k.data();
  float* v = ws_.v.data();
  float* attn = ws_.attn.data();
  float* proj = ws_.proj.data();
  const int32_t half = c.rope_dims / 2;
  grow(ws_.rope_angles, size_t(n * 2 * half));
  auto for_rows = [&](auto&& fn) {
    pool.parallel_for((n + kRowsPerTask - 1) / kRowsPerTask, [&](int64_t task, int) {
      for (int64_t t = task * kRowsPerTask, end = std::min(n, t + kRowsPerTask); t < end; ++t) fn(t);
    });
  };

  // Embeddings: (token + type 0) + position, then their LayerNorm, in llama.cpp's order of adds.
  const size_t embd_row = row_bytes(token_embd_->type, d);
  for_rows([&](int64_t t) {
    float* xt = x + t * d;
    float* tmp = ws_.xn.data() + t * d;
    dequantize_row(token_embd_->type, token_embd_->data + size_t(batch.tokens[t]) * embd_row, tmp, d);
    add_in_place(tmp, type_row_.data(), d);
    if (pos_embd_) {
      dequantize_row(pos_embd_->type, pos_embd_->data + size_t(batch.positions[t]) * row_bytes(pos_embd_->type, d), xt, d);
      add_in_place(xt, tmp, d);
    } else {
      std::copy(tmp, tmp + d, xt);
      ropes_[0].angles(batch.positions[t], ws_.rope_angles.data() + t * 2 * half, ws_.rope_angles.data() + t * 2 * half + half);
    }
    layer_norm(xt, embd_norm_, embd_norm_b_, xt, d, c.norm_eps);
  });

  // Attention's layout: each sequence's keys of a head in groups of eight, transposed (element e
  // of key l at [8e + l]; kernels/ops.h's dot_f32_key_groups), a sequence's last group padded
  // with zero keys, zeroed here and kept from here on (no token writes there). The scores of a
  // block of up to kQueriesPerTask queries against every group of its sequence, per thread.
  constexpr int64_t kQueriesPerTask = 32;
  const int64_t n_seq = int64_t(first.size());
  std::vector<int64_t> group0(size_t(n_seq) + 1, 0);  // a sequence's first group
  for (int64_t s = 0; s < n_seq; ++s) group0[s + 1] = group0[s] + (count[s] + 7) / 8;
  const int64_t n_groups = group0[n_seq], per_thread = kQueriesPerTask * 8 * ((max_keys + 7) / 8);
  grow(ws_.key_groups, size_t(H * n_groups * hd * 8));
  grow(ws_.scores, size_t(pool.size() * per_thread));
  float* key_groups = ws_.key_groups.data();
  for (int64_t s = 0; s < n_seq; ++s)
    if (count[s] % 8 != 0)
      for (int32_t h = 0; h < H; ++h) {
        float* last = key_groups + (h * n_groups + group0[s + 1] - 1) * hd * 8;
        for (int32_t e = 0; e < hd; ++e) std::fill(last + 8 * e + count[s] % 8, last + 8 * e + 8, 0.0f);
      }
  std::vector<const float*> groups(size_t(H * n_groups));  // head h's group g at [h * n_groups + g]
  for (int64_t i = 0; i < H * n_groups; ++i) groups[i] = key_groups + i * hd * 8;
  // The first token of each block of queries of one sequence: a task is one head over one
  // block, so that head's keys and values stay in the core's cache over the block's queries.
  std::vector<int64_t> query_blocks;
  for (int64_t s = 0; s < n_seq; ++s)
    for (int64_t t = 0; t < count[s]; t += kQueriesPerTask) query_blocks.push_back(first[s] + t);
  const int64_t n_blocks = int64_t(query_blocks.size());

  for (int32_t il = 0; il < c.n_layer; ++il) {
    const Layer& L = layers_[il];
    ws_.acts.reset(x, n, d);
    const MatmulJob qkv[] = {{&L.wq, &ws_.acts.get(L.wq.type, pool), q, qd},
                             {&L.wk, &ws_.acts.get(L.wk.type, pool), k, qd},
                             {&L.wv, &ws_.acts.get(L.wv.type, pool), v, qd}};
    matmul(qkv, 3, n, pool);
    for_rows([&](int64_t t) {
      if (L.bq) add_in_place(q + t * qd, L.bq, qd);
      if (L.bk) add_in_place(k + t * qd, L.bk, qd);
      if (L.bv) add_in_place(v + t * qd, L.bv, qd);
      if (!pos_embd_) {
        const float* cs = ws_.rope_angles.data() + t * 2 * half;
        ropes_[0].rotate(q + t * qd, H, hd, cs, cs + half);
        ropes_[0].rotate(k + t * qd, H, hd, cs, cs + half);
      }
      const int64_t s = batch.seq[t], p = t - first[s], lane = p % 8;
      for (int32_t h = 0; h < H; ++h) {
        float* dst = key_groups + ((h * n_groups + group0[s] + p / 8) * hd) * 8 + lane;
        const float* src = k + t * qd + h * hd;
        for (int32_t e = 0; e < hd; ++e) dst[8 * e] = src[e];
      }
    });
    // Full-precision attention over every token of the sequence (llama.cpp keeps an encoder's
    // K and V in F32, without a cache), keys in position order: scores for the block's queries
    // at once (each key loaded once per tile of queries), their softmax, and the values for up
    // to three queries at once.
    pool.parallel_for(H * n_blocks, [&](int64_t task, int thread) {
      const int32_t h = int32_t(task / n_blocks);
      const int64_t t0 = query_blocks[task % n_blocks], s = batch.seq[t0];
      const int64_t f0 = first[s], nk = count[s], t1 = std::min(f0 + nk, t0 + kQueriesPerTask);
      const int64_t width = 8 * ((nk + 7) / 8);
      float* sc = ws_.scores.data() + thread * per_thread;
      dot_f32_key_groups(q + t0 * qd + h * hd, t1 - t0, qd, groups.data() + h * n_groups + group0[s], width / 8, 8, hd,
                         c.attn_scale, sc, width);
      for (int64_t r = 0; r < t1 - t0; ++r) {
        float* row = sc + r * width;
        scale_in_place(row, 1.0f / softmax_exp(row, max_f32(row, nk, -INFINITY), nk), nk);
        std::fill(attn + (t0 + r) * qd + h * hd, attn + (t0 + r) * qd + (h + 1) * hd, 0.0f);
      }
      const RowRun<float> values{v + f0 * qd + h * hd, nk};
      axpy_f32_rows(attn + t0 * qd + h * hd, qd, sc, width, t1 - t0, &values, 1, qd, hd);
    });
    // x <- LayerNorm(proj + bias + x): the post-norm residual after attention and after the FFN.
    auto residual_norm = [&](const float* bias, const float* norm, const float* norm_b) {
      for_rows([&](int64_t t) {
        float* p = proj + t * d;
        if (bias) add_in_place(p, bias, d);
        add_in_place(x + t * d, p, d);
        layer_norm(x + t * d, norm, norm_b, x + t * d, d, c.norm_eps);
      });
    };
    ws_.acts.reset(attn, n, qd);
    matmul_into(L.wo, n, proj, pool);
    residual_norm(L.bo, L.post_attn_norm, L.post_attn_norm_b);  // the FFN's input

    ws_.acts.reset(x, n, d);
    float* up = ws_.up.data();
    float* gate = ws_.gate.data();
    if (L.gate.rows > 0) {  // SwiGLU (nomic-bert)
      const MatmulJob jobs[] = {{&L.gate, &ws_.acts.get(L.gate.type, pool), gate, n_ff},
                                {&L.up, &ws_.acts.get(L.up.type, pool), up, n_ff}};
      matmul(jobs, 2, n, pool);
      for_rows([&](int64_t t) { silu_mul(gate + t * n_ff, up + t * n_ff, gate + t * n_ff, n_ff); });
    } else {  // GELU (bert)
      matmul_into(L.up, n, up, pool);
      for_rows([&](int64_t t) {
        if (L.up_b) add_in_place(up + t * n_ff, L.up_b, n_ff);
        gelu(up + t * n_ff, gate + t * n_ff, n_ff);
      });
    }
    ws_.acts.reset(gate, n, n_ff);
    matmul_into(L.down, n, proj, pool);
    residual_norm(L.down_b, L.post_ffn_norm, L.post_ffn_norm_b);  // the layer's output
  }

  for (int64_t t = 0, i = 0; t < n; ++t)
    if (batch.want_hidden[t]) std::copy(x + t * d, x + (t + 1) * d, hidden + (i++) * d);
}

}  // namespace nagare
