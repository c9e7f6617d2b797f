// The forward pass shared by every supported architecture (see ModelConfig for what differs).
#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "model/weight_lookup.h"
#include "util/error.h"

namespace nagare {
namespace {

int activation_slot(GgmlType act) {
  switch (act) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::BF16: return 2;
    case GgmlType::Q8_0: return 3;
    case GgmlType::Q8_1: return 4;
    case GgmlType::Q8_K: return 5;
    default: throw Error("no activation format for this weight type");
  }
}

template <typename T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = GgufFile::open(path);
  m->config_ = ModelConfig::from_gguf(*m->file_);
  m->bind_weights();
  // The quantized matrices now live in packed copies; the rest (norms, embedding rows) is read
  // from the mapping on demand, a few pages at a time.
  m->file_->release_pages();
  return m;
}

size_t Model::weight_bytes_per_token() const {
  auto bytes = [](const WeightMatrix& w) { return w.packed ? w.packed->bytes() : size_t(w.rows) * w.row_stride; };
  size_t total = bytes(output_) + row_bytes(token_embd_->type, config_.n_embd);  // + one embedding row
  for (const Layer& L : layers_) {
    for (const WeightMatrix* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down, &L.router}) total += bytes(*w);
    // A token reads n_expert_used of the experts: the average expert's share.
    size_t experts = 0;
    for (auto* group : {&L.expert_gate, &L.expert_up, &L.expert_down})
      for (const WeightMatrix& w : *group) experts += bytes(w);
    if (!L.expert_gate.empty()) total += experts / L.expert_gate.size() * size_t(config_.n_expert_used);
  }
  return total;
}

void Model::bind_weights() {
  const GgufFile& f = *file_;
  const ModelConfig& c = config_;
  const WeightLookup lookup(f);
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) { return lookup.matrix(name, rows, cols); };
  auto vec = [&](const std::string& name, int64_t n) { return lookup.vec(name, n); };
  auto optional_vec = [&](const std::string& name, int64_t n) { return lookup.optional_vec(name, n); };
  const auto row_range = &WeightLookup::row_range;

  token_embd_ = &f.tensor("token_embd.weight");
  if (!is_supported_weight_type(token_embd_->type))
    throw Error(f.path() + ": tensor 'token_embd.weight' has unsupported type " + std::string(ggml_type_name(token_embd_->type)));
  if (c.encoder) {
    bind_encoder_weights();
    pack_weights();
    return;
  }
  output_norm_ = vec("output_norm.weight", c.n_embd);
  output_ = matrix(f.find_tensor("output.weight") ? "output.weight" : "token_embd.weight", c.n_vocab, c.n_embd);

  // Llama 3's rope frequency factors, or LongRoPE's short ones (phi3; see ModelConfig).
  const char* factors_name = f.find_tensor("rope_freqs.weight") ? "rope_freqs.weight" : "rope_factors_short.weight";
  const float* freq_factors = f.find_tensor(factors_name) ? vec(factors_name, c.rope_dims / 2) : nullptr;
  if (c.rope_orig_ctx > 0) {
    rope_factors_long_ = vec("rope_factors_long.weight", c.rope_dims / 2);
    rope_factors_short_ = freq_factors;
  }
  const int64_t q_dim = int64_t(c.n_head) * c.head_dim_k, k_dim = int64_t(c.n_head_kv) * c.head_dim_k;
  const int64_t v_dim = int64_t(c.n_head_kv) * c.head_dim_v, o_dim = int64_t(c.n_head) * c.head_dim_v;
  // A 3-D expert tensor [cols, rows, n_expert] as one rows x cols matrix per expert.
  auto experts = [&](const std::string& name, int64_t rows, int64_t cols) {
    const GgufTensor& t = f.tensor(name);
    if (t.dims.size() != 3 || t.dims[0] != cols || t.dims[1] != rows || t.dims[2] != c.n_expert)
      throw lookup.shape_error(t, std::to_string(cols) + " x " + std::to_string(rows) + " x " + std::to_string(c.n_expert));
    if (!is_supported_weight_type(t.type))
      throw Error(f.path() + ": tensor '" + name + "' has unsupported type " + std::string(ggml_type_name(t.type)));
    const WeightMatrix all{t.type, t.data, rows * c.n_expert, cols, row_bytes(t.type, cols), nullptr};
    std::vector<WeightMatrix> out;
    for (int32_t e = 0; e < c.n_expert; ++e) out.push_back(row_range(all, e * rows, rows));
    return out;
  };
  layers_.resize(c.n_layer);
  for (int32_t il = 0; il < c.n_layer; ++il) {
    Layer& L = layers_[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    L.attn_norm = vec(p + "attn_norm.weight", c.n_embd);
    if (f.find_tensor(p + "attn_qkv.weight")) {
      const WeightMatrix qkv = matrix(p + "attn_qkv.weight", q_dim + k_dim + v_dim, c.n_embd);
      L.wq = row_range(qkv, 0, q_dim);
      L.wk = row_range(qkv, q_dim, k_dim);
      L.wv = row_range(qkv, q_dim + k_dim, v_dim);
      if (const float* b = optional_vec(p + "attn_qkv.bias", q_dim + k_dim + v_dim)) {
        L.bq = b;
        L.bk = b + q_dim;
        L.bv = b + q_dim + k_dim;
      }
    } else {
      L.wq = matrix(p + "attn_q.weight", q_dim, c.n_embd);
      L.wk = matrix(p + "attn_k.weight", k_dim, c.n_embd);
      L.wv = matrix(p + "attn_v.weight", v_dim, c.n_embd);
    }
    if (!L.bq) {
      L.bq = optional_vec(p + "attn_q.bias", q_dim);
      L.bk = optional_vec(p + "attn_k.bias", k_dim);
      L.bv = optional_vec(p + "attn_v.bias", v_dim);
    }
    L.wo = matrix(p + "attn_output.weight", c.n_embd, o_dim);
    L.bo = optional_vec(p + "attn_output.bias", c.n_embd);
    if (c.attn_sinks) L.sinks = vec(p + "attn_sinks.weight", c.n_head);
    L.ffn_norm = vec(p + c.ffn_norm_tensor + ".weight", c.n_embd);
    const GgufTensor* up = f.find_tensor(p + "ffn_up.weight");
    if (c.n_expert > 0) {
      L.router = matrix(p + "ffn_gate_inp.weight", c.n_expert, c.n_embd);
      L.expert_gate = experts(p + "ffn_gate_exps.weight", c.n_ff_expert, c.n_embd);
      L.expert_up = experts(p + "ffn_up_exps.weight", c.n_ff_expert, c.n_embd);
      L.expert_down = experts(p + "ffn_down_exps.weight", c.n_embd, c.n_ff_expert);
      L.router_bias = optional_vec(p + "ffn_gate_inp.bias", c.n_expert);
      L.expert_gate_bias = optional_vec(p + "ffn_gate_exps.bias", int64_t(c.n_expert) * c.n_ff_expert);
      L.expert_up_bias = optional_vec(p + "ffn_up_exps.bias", int64_t(c.n_expert) * c.n_ff_expert);
      L.expert_down_bias = optional_vec(p + "ffn_down_exps.bias", int64_t(c.n_expert) * c.n_embd);
    } else if (!f.find_tensor(p + "ffn_gate.weight") && up && up->dims.size() == 2 && up->dims[1] == 2 * int64_t(c.n_ff)) {
      // Gate rows first, then up rows: llama.cpp's fused SwiGLU takes the halves in that order.
      const WeightMatrix gate_up = matrix(p + "ffn_up.weight", 2 * int64_t(c.n_ff), c.n_embd);
      L.gate = row_range(gate_up, 0, c.n_ff);
      L.up = row_range(gate_up, c.n_ff, c.n_ff);
      L.down = matrix(p + "ffn_down.weight", c.n_embd, c.n_ff);
    } else {
      L.gate = matrix(p + "ffn_gate.weight", c.n_ff, c.n_embd);
      L.up = matrix(p + "ffn_up.weight", c.n_ff, c.n_embd);
      L.down = matrix(p + "ffn_down.weight", c.n_embd, c.n_ff);
    }
    if (c.qk_norm) {
      L.q_norm = vec(p + "attn_q_norm.weight", c.head_dim_k);
      L.k_norm = vec(p + "attn_k_norm.weight", c.head_dim_k);
    }
    if (c.post_norms) {
      L.post_attn_norm = vec(p + "post_attention_norm.weight", c.n_embd);
      L.post_ffn_norm = vec(p + "post_ffw_norm.weight", c.n_embd);
    }
    L.rope_slot = c.layer_uses_swa[il] ? 1 : 0;
    ropes_[L.rope_slot] = c.layer_uses_swa[il] ? Rope(c.rope_dims, c.rope_base_swa, c.rope_scale_swa, c.rope_style, nullptr, c.yarn)
                                               : Rope(c.rope_dims, c.rope_base, c.rope_scale, c.rope_style, freq_factors, c.yarn);
    rope_used_[L.rope_slot] = true;
  }
  pack_weights();
}

void Model::pack_weights() {
  // The SIMD tile kernels' layout, when the active ISA has them: every matrix in one arena.
  std::vector<WeightMatrix*> all;
  if (output_.rows > 0) all.push_back(&output_);
  for (Layer& L : layers_) {
    for (WeightMatrix* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down, &L.router})
      if (w->rows > 0) all.push_back(w);
    for (auto* experts : {&L.expert_gate, &L.expert_up, &L.expert_down})
      for (WeightMatrix& w : *experts) all.push_back(&w);
  }
  size_t bytes = 0;
  for (const WeightMatrix* w : all) bytes += packed_bytes_for(*w);
  if (bytes == 0) return;
  const auto arena = std::make_shared<PackedArena>(bytes);
  for (WeightMatrix* w : all) pack_for_gemm(*w, arena);
}

void Model::use_context(int32_t n_ctx) {
  const ModelConfig& c = config_;
  if (rope_factors_long_ == nullptr) return;
  // LongRoPE models (phi3) have no sliding-window layers: slot 0 is every layer's rope.
  const float* factors = n_ctx > c.rope_orig_ctx ? rope_factors_long_ : rope_factors_short_;
  ropes_[0] = Rope(c.rope_dims, c.rope_base, c.rope_scale, c.rope_style, factors, c.yarn);
}

void Model::ActivationCache::reset(const float* x, int64_t n_tokens, int64_t cols) {
  x_ = x;
  n_tokens_ = n_tokens;
  cols_ = cols;
  std::fill(std::begin(valid_), std::end(valid_), false);
  n_begun_ = 0;
}

const QuantizedActivations& Model::ActivationCache::get(GgmlType weight_type, ThreadPool& pool) {
  GgmlType act = activation_type_for(weight_type);
  int slot = activation_slot(act);
  if (!valid_[slot]) {
    acts_[slot].quantize(act, x_, n_tokens_, cols_, cols_, pool);
    valid_[slot] = true;
  }
  return acts_[slot];
}

void Model::ActivationCache::begin(std::initializer_list<GgmlType> weight_types, const float* x, int64_t n_tokens,
                                   int64_t cols) {
  reset(x, n_tokens, cols);
  for (GgmlType type : weight_types) {
    const GgmlType act = activation_type_for(type);
    const int slot = activation_slot(act);
    if (valid_[slot]) continue;
    acts_[slot].resize(act, n_tokens, cols);
    valid_[slot] = true;
    begun_[n_begun_++] = slot;
  }
}

void Model::ActivationCache::quantize_rows(int64_t t0, int64_t t1) {
  for (int i = 0; i < n_begun_; ++i)
    for (int64_t t = t0; t < t1; ++t) acts_[begun_[i]].quantize_row(t, x_ + t * cols_);
}

void Model::ActivationCache::quantize_cols(int64_t t0, int64_t t1, int64_t c0, int64_t c1) {
  for (int i = 0; i < n_begun_; ++i) acts_[begun_[i]].quantize_cols(x_, cols_, t0, t1, c0, c1);
}

template <typename MakeRows>
void Model::ActivationCache::produce(std::initializer_list<GgmlType> weight_types, float* x, int64_t n_tokens,
                                     int64_t cols, ThreadPool& pool, MakeRows&& make_rows) {
  begin(weight_types, x, n_tokens, cols);
  pool.parallel_for((n_tokens + kRowsPerTask - 1) / kRowsPerTask, [&](int64_t task, int) {
    const int64_t t0 = task * kRowsPerTask, t1 = std::min(n_tokens, t0 + kRowsPerTask);
    make_rows(t0, t1);
    quantize_rows(t0, t1);
  });
}

void Model::Workspace::reserve(const ModelConfig& c, int64_t n, int64_t n_logits, int n_threads) {
  grow(x, n * c.n_embd);
  grow(xn, n * std::max<int64_t>(c.n_embd, int64_t(c.n_head) * c.head_dim_v));
  grow(q, n * c.n_head * c.head_dim_k);
  grow(k, n * c.n_head_kv * c.head_dim_k);
  grow(v, n * c.n_head_kv * c.head_dim_v);
  grow(attn, n * c.n_head * c.head_dim_v);
  grow(proj, n * c.n_embd);
  grow(gate, n * c.n_ff);
  grow(up, n * c.n_ff);
  grow(final_in, n_logits * c.n_embd);
  grow(attn_scratch, int64_t(n_threads) * int64_t(attention_scratch_floats(c)));
}

void Model::matmul_into(const WeightMatrix& w, int64_t n_tokens, float* out, ThreadPool& pool) {
  matmul(w, ws_.acts.get(w.type, pool), n_tokens, out, w.rows, pool);
}

void Model::gate_up_activation(const Layer& L, int64_t n, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int64_t n_ff = c.n_ff;
  float* gate = ws_.gate.data();
  const float* up = ws_.up.data();
  // gate <- act(gate) * up over columns [c0, c1) of tokens [t0, t1).
  auto activate = [&](int64_t t0, int64_t t1, int64_t c0, int64_t c1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* g = gate + t * n_ff + c0;
      if (c.activation == FfnActivation::kSilu) silu_mul(g, up + t * n_ff + c0, g, c1 - c0);
      else gelu_tanh_mul(g, up + t * n_ff + c0, g, c1 - c0);
    }
  };
  const MatmulJob jobs[] = {{&L.gate, &ws_.acts.get(L.gate.type, pool), gate, n_ff},
                            {&L.up, &ws_.acts.get(L.up.type, pool), ws_.up.data(), n_ff}};
  // One pass when each task can quantize whole blocks of down's input and the cut leaves each
  // thread 8 tasks to balance; with fewer (Gemma 3's 256-element blocks give 8 tasks for a
  // small batch) the activation takes a pass of its own.
  const int64_t align = std::max<int64_t>(kGemmRows, block_elements(activation_type_for(L.down.type)));
  if (align % kGemmRows == 0 && matmul_pair_tasks(n_ff, n, align, pool.size()) >= 8 * int64_t(pool.size())) {
    ws_.ffn_acts.begin({L.down.type}, gate, n, n_ff);
    matmul_pair(jobs[0], jobs[1], n, align, pool, [&](int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
      activate(t0, t1, r0, r1);
      ws_.ffn_acts.quantize_cols(t0, t1, r0, r1);
    });
    return;
  }
  matmul(jobs, 2, n, pool);
  ws_.ffn_acts.produce({L.down.type}, gate, n, n_ff, pool, [&](int64_t t0, int64_t t1) { activate(t0, t1, 0, n_ff); });
}

float* Model::rope_angles(int64_t t, int32_t slot) {
  const int64_t half = config_.rope_dims / 2;
  return ws_.rope_angles.data() + (t * 2 + slot) * 2 * half;
}

void Model::rotate_and_cache(const Batch& batch, KvCache& kv, int32_t il, int64_t t) {
  const ModelConfig& c = config_;
  const Layer& L = layers_[il];
  const int64_t k_dim = int64_t(c.n_head_kv) * c.head_dim_k, v_dim = int64_t(c.n_head_kv) * c.head_dim_v;
  float* q = ws_.q.data() + t * int64_t(c.n_head) * c.head_dim_k;
  float* k = ws_.k.data() + t * k_dim;
  float* v = ws_.v.data() + t * v_dim;
  if (L.bq) add_in_place(q, L.bq, int64_t(c.n_head) * c.head_dim_k);
  if (L.bk) add_in_place(k, L.bk, k_dim);
  if (L.bv) add_in_place(v, L.bv, v_dim);
  if (c.qk_norm) {
    rms_norm_rows(q, L.q_norm, q, c.n_head, c.head_dim_k, c.norm_eps);
    rms_norm_rows(k, L.k_norm, k, c.n_head_kv, c.head_dim_k, c.norm_eps);
  }
  const float* cs = rope_angles(t, L.rope_slot);
  const int32_t half = c.rope_dims / 2;
  ropes_[L.rope_slot].rotate(q, c.n_head, c.head_dim_k, cs, cs + half);
  ropes_[L.rope_slot].rotate(k, c.n_head_kv, c.head_dim_k, cs, cs + half);
  // As llama.cpp: the query meets half-precision keys rounded to half (once, here, for every
  // attention task that reads it); quantized keys meet it quantized (model/attention.cc).
  if (kv.types().k == GgmlType::F16) scale_round_fp16(q, 1.0f, int64_t(c.n_head) * c.head_dim_k);
  const BatchSequence& s = batch.sequences[batch.seq[t]];
  const int32_t pos = batch.positions[t];
  const int32_t* table = kv.layer_in_window(il) ? s.window_table : s.block_table;
  const int64_t slot = int64_t(table[pos / kv.block_size()]) * kv.block_size() + pos % kv.block_size();
  kv.store_key(il, slot, k);
  kv.store_value(il, slot, v);
}

void Model::forward(const Batch& batch, KvCache& kv, float* logits, ThreadPool& pool, float* hidden) {
  const ModelConfig& c = config_;
  const int64_t n = batch.size();
  if (n == 0) return;
  if (c.encoder) return forward_encoder(batch, hidden, pool);
  const bool any_hidden = batch.n_hidden() > 0;
  if (any_hidden && (hidden == nullptr || int64_t(batch.want_hidden.size()) != n))
    throw Error("the batch asks for hidden states but gives no room for them");
  if (int64_t(batch.want_logits.size()) != n) throw Error("the batch does not say for every token whether it wants logits");
  for (int64_t t = 0; t < n; ++t) {
    if (batch.tokens[t] < 0 || batch.tokens[t] >= c.n_vocab) throw Error("token id " + std::to_string(batch.tokens[t]) + " is outside the vocabulary");
    if (batch.seq[t] < 0 || size_t(batch.seq[t]) >= batch.sequences.size()) throw Error("batch token names no sequence");
    const BatchSequence& s = batch.sequences[batch.seq[t]];
    const int32_t pos = batch.positions[t], bs = kv.block_size();
    if (pos < 0 || int64_t(pos) >= int64_t(s.n_blocks) * bs)
      throw Error("position " + std::to_string(pos) + " has no KV block");
    // Separate windows: the sliding-window blocks from the token's window on must be held.
    if (kv.separate_windows())
      for (int32_t b = std::max(0, pos - kv.window() + 1) / bs; b <= pos / bs; ++b)
        if (!s.window_table || s.window_table[b] < 0)
          throw Error("position " + std::to_string(pos) + " has no sliding-window KV block " + std::to_string(b));
  }
  const int64_t n_logits = batch.n_logits();
  const bool decode_step = batch.one_token_per_sequence();
  // The tokens whose logits or hidden states are returned, in batch order.
  std::vector<int64_t>& out_rows = ws_.out_rows;
  out_rows.clear();
  for (int64_t t = 0; t < n; ++t)
    if (batch.want_logits[t] || (any_hidden && batch.want_hidden[t])) out_rows.push_back(t);
  const int64_t m = int64_t(out_rows.size());
  ws_.reserve(c, n, n_logits, pool.size());
  const int64_t d = c.n_embd;
  float* x = ws_.x.data();
  float* xn = ws_.xn.data();

  const size_t embd_row = row_bytes(token_embd_->type, d);
  // Each token's rotation angles, once per rope slot for all layers (sin/cos are not cheap).
  const int32_t half = c.rope_dims / 2;
  if (ws_.rope_angles.size() < size_t(n * 4 * half)) ws_.rope_angles.resize(size_t(n * 4 * half));
  pool.parallel_for(n, [&](int64_t t, int) {
    dequantize_row(token_embd_->type, token_embd_->data + size_t(batch.tokens[t]) * embd_row, x + t * d, d);
    if (c.embed_scale != 1.f) scale_in_place(x + t * d, c.embed_scale, d);
    for (int32_t slot = 0; slot < 2; ++slot)
      if (rope_used_[slot]) ropes_[slot].angles(batch.positions[t], rope_angles(t, slot), rope_angles(t, slot) + half);
  });

  // Each pass over the tokens also quantizes its output for the matmul that reads it next, and
  // a layer's last residual add is the next layer's first norm: 7 hand-offs to the pool a layer in
  // a decode step of 4+ tokens a thread, 9 at most (see attention and gate_up_activation).
  auto rows = [&](float* base, int64_t t0, int64_t width) { return base + t0 * width; };
  ws_.acts.produce({layers_[0].wq.type, layers_[0].wk.type, layers_[0].wv.type}, xn, n, d, pool, [&](int64_t t0, int64_t t1) {
    rms_norm_rows(rows(x, t0, d), layers_[0].attn_norm, rows(xn, t0, d), t1 - t0, d, c.norm_eps);
  });
  for (int32_t il = 0; il < c.n_layer; ++il) {
    const Layer& L = layers_[il];
    {  // q, k and v in one pass of the pool (their activations were quantized by the pass before)
      const MatmulJob jobs[] = {{&L.wq, &ws_.acts.get(L.wq.type, pool), ws_.q.data(), L.wq.rows},
                                {&L.wk, &ws_.acts.get(L.wk.type, pool), ws_.k.data(), L.wk.rows},
                                {&L.wv, &ws_.acts.get(L.wv.type, pool), ws_.v.data(), L.wv.rows}};
      matmul(jobs, 3, n, pool);
    }

    attention(batch, kv, il, L.wo.type, decode_step, pool);  // leaves its output as wo's activations
    matmul_into(L.wo, n, ws_.proj.data(), pool);
    if (il + 1 == c.n_layer && m < n) {
      // The last layer's FFN only for the tokens whose output is read (their keys and values are
      // all in the cache by now), as llama.cpp does: a prompt's chunk computes it for its last
      // token, or none. Rows are independent, so the kept ones get the same bits.
      for (int64_t j = 0; j < m; ++j) {
        std::copy(rows(x, out_rows[j], d), rows(x, out_rows[j] + 1, d), rows(x, j, d));
        std::copy(rows(ws_.proj.data(), out_rows[j], d), rows(ws_.proj.data(), out_rows[j] + 1, d), rows(ws_.proj.data(), j, d));
      }
      if (m == 0) break;
    }
    const int64_t n_rows = il + 1 == c.n_layer ? m : n;

    auto ffn_input = [&](int64_t t0, int64_t t1) {
      float* p = rows(ws_.proj.data(), t0, d);
      if (L.bo)
        for (int64_t t = t0; t < t1; ++t) add_in_place(p + (t - t0) * d, L.bo, d);
      if (L.post_attn_norm) rms_norm_rows(p, L.post_attn_norm, p, t1 - t0, d, c.norm_eps);
      add_in_place(rows(x, t0, d), p, (t1 - t0) * d);
      rms_norm_rows(rows(x, t0, d), L.ffn_norm, rows(xn, t0, d), t1 - t0, d, c.norm_eps);
    };
    if (!L.expert_gate.empty()) {
      ws_.acts.produce({L.router.type, L.expert_gate[0].type, L.expert_up[0].type}, xn, n_rows, d, pool, ffn_input);
      moe_ffn(L, n_rows, pool);
    } else {
      ws_.acts.produce({L.gate.type, L.up.type}, xn, n_rows, d, pool, ffn_input);
      gate_up_activation(L, n_rows, pool);
      matmul(L.down, ws_.ffn_acts.get(L.down.type, pool), n_rows, ws_.proj.data(), L.down.rows, pool);
    }

    auto residual = [&](int64_t t0, int64_t t1) {
      float* p = rows(ws_.proj.data(), t0, d);
      if (L.post_ffn_norm) rms_norm_rows(p, L.post_ffn_norm, p, t1 - t0, d, c.norm_eps);
      add_in_place(rows(x, t0, d), p, (t1 - t0) * d);
    };
    if (il + 1 == c.n_layer) {
      pool.parallel_for((n_rows + kRowsPerTask - 1) / kRowsPerTask, [&](int64_t task, int) {
        residual(task * kRowsPerTask, std::min(n_rows, (task + 1) * kRowsPerTask));
      });
    } else {
      const Layer& next = layers_[il + 1];
      ws_.acts.produce({next.wq.type, next.wk.type, next.wv.type}, xn, n, d, pool, [&](int64_t t0, int64_t t1) {
        residual(t0, t1);
        rms_norm_rows(rows(x, t0, d), next.attn_norm, rows(xn, t0, d), t1 - t0, d, c.norm_eps);
      });
    }
  }

  // Row j of x is now token out_rows[j]'s.
  if (any_hidden) {
    // The same norm of the same rows as the logits' input below, so an embedding is exactly
    // what the output projection would read.
    for (int64_t j = 0, i = 0; j < m; ++j)
      if (batch.want_hidden[out_rows[j]]) rms_norm(x + j * d, output_norm_, hidden + (i++) * d, d, c.norm_eps);
  }
  if (n_logits == 0) return;
  for (int64_t j = 0, i = 0; j < m; ++j)
    if (batch.want_logits[out_rows[j]]) rms_norm(x + j * d, output_norm_, ws_.final_in.data() + (i++) * d, d, c.norm_eps);
  ws_.acts.reset(ws_.final_in.data(), n_logits, d);
  matmul_into(output_, n_logits, logits, pool);
  if (c.final_softcap > 0) {
    const int64_t V = c.n_vocab, per_task = 16384;
    pool.parallel_for((n_logits * V + per_task - 1) / per_task, [&](int64_t task, int) {
      const int64_t i0 = task * per_task;
      soft_cap(logits + i0, c.final_softcap, std::min(per_task, n_logits * V - i0));
    });
  }
}

}  // namespace nagare
