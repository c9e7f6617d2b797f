// A mixture-of-experts FFN layer (qwen3moe): route each token to its best experts, run every
// active expert once over all the tokens routed to it, and sum the weighted outputs.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "kernels/quant.h"
#include "model/model.h"

namespace nagare {
namespace {

template <typename T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// gpt-oss's expert activation, into gate: min(g, 7) * sigmoid(1.702 * min(g, 7)) * (clamp(u, -7, 7) + 1),
// in ggml's float steps.
void swiglu_oai(float* gate, const float* up, int64_t n) {
  constexpr float kAlpha = 1.702f, kLimit = 7.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float x = std::min(gate[i], kLimit), y = std::clamp(up[i], -kLimit, kLimit);
    gate[i] = x / (1.f + std::exp(kAlpha * (-x))) * (y + 1.f);
  }
}

// Token t's experts: probabilities from its router logits (softmax over all experts, or each
// expert's sigmoid, or the logits themselves for kSoftmaxOfChosen), the k largest chosen best
// first (the lower id on a tie), their probabilities as weights (for kSoftmaxOfChosen the
// softmax of the chosen logits), renormalized and scaled as the config says. Float steps as
// ggml's (sums of exponentials and of weights in double).
void route(const ModelConfig& c, const float* logits, float* probs, int32_t* chosen, float* weights) {
  const int32_t E = c.n_expert, K = c.n_expert_used;
  if (c.expert_gating == ExpertGating::kSoftmaxOfChosen) {
    std::copy(logits, logits + E, probs);
  } else if (c.expert_gating == ExpertGating::kSoftmax) {
    const float max = *std::max_element(logits, logits + E);
    double sum = 0;
    for (int32_t e = 0; e < E; ++e) sum += probs[e] = std::exp(logits[e] - max);
    const float inv = float(1.0 / sum);
    for (int32_t e = 0; e < E; ++e) probs[e] *= inv;
  } else {
    for (int32_t e = 0; e < E; ++e) probs[e] = 1.0f / (1.0f + std::exp(-logits[e]));
  }
  for (int32_t k = 0; k < K; ++k) {
    int32_t best = -1;
    for (int32_t e = 0; e < E; ++e) {
      if (std::find(chosen, chosen + k, e) != chosen + k) continue;
      if (best < 0 || probs[e] > probs[best]) best = e;
    }
    chosen[k] = best;
    weights[k] = probs[best];
  }
  if (c.expert_gating == ExpertGating::kSoftmaxOfChosen) {
    const float max = weights[0];  // the best first
    double sum = 0;
    for (int32_t k = 0; k < K; ++k) sum += weights[k] = std::exp(weights[k] - max);
    const float inv = float(1.0 / sum);
    for (int32_t k = 0; k < K; ++k) weights[k] *= inv;
  }
  if (c.expert_weights_norm) {
    double sum = 0;
    for (int32_t k = 0; k < K; ++k) sum += weights[k];
    const float s = std::max(float(sum), 6.103515625e-5f);  // ggml's clamp: the smallest normal half
    for (int32_t k = 0; k < K; ++k) weights[k] /= s;
  }
  if (c.expert_weights_scale != 1.f)
    for (int32_t k = 0; k < K; ++k) weights[k] *= c.expert_weights_scale;
}

}  // namespace

void Model::moe_ffn(const Layer& L, int64_t n, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int32_t E = c.n_expert, K = c.n_expert_used;
  const int64_t F = c.n_ff_expert, d = c.n_embd, rows = n * K;
  MoeScratch& m = ws_.moe;
  grow(m.router_logits, size_t(n * E));
  grow(m.chosen, size_t(rows));
  grow(m.weights, size_t(rows));
  grow(m.slot, size_t(rows));
  grow(m.row_token, size_t(rows));
  grow(m.gate, size_t(rows * F));
  grow(m.up, size_t(rows * F));
  grow(m.out, size_t(rows * d));
  m.expert_first.assign(E, 0);
  m.expert_count.assign(E, 0);
  if (m.gate_in.size() < size_t(E)) {
    m.gate_in.resize(E);
    m.up_in.resize(E);
    m.down_in.resize(E);
  }

  // Routing: a small pass (n x E logits) on this thread; it decides the passes after it.
  matmul(L.router, ws_.acts.get(L.router.type, pool), n, m.router_logits.data(), E, pool);
  // Each token's routing on its own (a thread's own probabilities scratch), then the counts.
  grow(m.probs, size_t(pool.size()) * size_t(E));
  pool.parallel_for(n, [&](int64_t t, int thread) {
    if (L.router_bias) add_in_place(m.router_logits.data() + t * E, L.router_bias, E);
    route(c, m.router_logits.data() + t * E, m.probs.data() + size_t(thread) * size_t(E), m.chosen.data() + t * K,
          m.weights.data() + t * K);
  });
  for (int64_t r = 0; r < rows; ++r) m.expert_count[m.chosen[r]]++;
  for (int32_t e = 1; e < E; ++e) m.expert_first[e] = m.expert_first[e - 1] + m.expert_count[e - 1];
  m.next_row.assign(m.expert_first.begin(), m.expert_first.end());
  for (int64_t t = 0; t < n; ++t)
    for (int32_t k = 0; k < K; ++k) {
      const int32_t row = m.next_row[m.chosen[t * K + k]]++;
      m.slot[t * K + k] = row;
      m.row_token[row] = int32_t(t);
    }

  // Each active expert's input rows, copied from the batch's quantized input.
  const QuantizedActivations& gate_src = ws_.acts.get(L.expert_gate[0].type, pool);
  const QuantizedActivations& up_src = ws_.acts.get(L.expert_up[0].type, pool);
  const bool shared_input = gate_src.act_type() == up_src.act_type();
  const GgmlType down_act = activation_type_for(L.expert_down[0].type);
  for (int32_t e = 0; e < E; ++e) {
    if (m.expert_count[e] == 0) continue;
    m.gate_in[e].resize(gate_src.act_type(), m.expert_count[e], d);
    if (!shared_input) m.up_in[e].resize(up_src.act_type(), m.expert_count[e], d);
    m.down_in[e].resize(down_act, m.expert_count[e], F);
  }
  // The expert whose rows hold `row`: the last with its first row at or before it (an expert
  // without rows shares its first row with the next, so it is never the last).
  auto expert_of_row = [&](int64_t row) {
    return int32_t(std::upper_bound(m.expert_first.begin(), m.expert_first.end(), int32_t(row)) - m.expert_first.begin()) - 1;
  };
  pool.parallel_for(rows, [&](int64_t row, int) {
    const int32_t e = expert_of_row(row);
    m.gate_in[e].copy_row(row - m.expert_first[e], gate_src, m.row_token[row]);
    if (!shared_input) m.up_in[e].copy_row(row - m.expert_first[e], up_src, m.row_token[row]);
  });

  // Gate and up of every active expert in one pass: each expert's weights read once.
  m.jobs.clear();
  for (int32_t e = 0; e < E; ++e) {
    if (m.expert_count[e] == 0) continue;
    const QuantizedActivations* up_in = shared_input ? &m.gate_in[e] : &m.up_in[e];
    m.jobs.push_back({&L.expert_gate[e], &m.gate_in[e], m.gate.data() + m.expert_first[e] * F, F, m.expert_count[e]});
    m.jobs.push_back({&L.expert_up[e], up_in, m.up.data() + m.expert_first[e] * F, F, m.expert_count[e]});
  }
  matmul(m.jobs.data(), int(m.jobs.size()), rows, pool);
  pool.parallel_for(rows, [&](int64_t row, int) {
    const int32_t e = expert_of_row(row);
    float* g = m.gate.data() + row * F;
    float* u = m.up.data() + row * F;
    if (L.expert_gate_bias) add_in_place(g, L.expert_gate_bias + int64_t(e) * F, F);
    if (L.expert_up_bias) add_in_place(u, L.expert_up_bias + int64_t(e) * F, F);
    if (c.expert_activation == ExpertActivation::kSwigluOai) swiglu_oai(g, u, F);
    else silu_mul(g, u, g, F);
    m.down_in[e].quantize_row(row - m.expert_first[e], g);
  });
  m.jobs.clear();
  for (int32_t e = 0; e < E; ++e)
    if (m.expert_count[e] > 0)
      m.jobs.push_back({&L.expert_down[e], &m.down_in[e], m.out.data() + m.expert_first[e] * d, d, m.expert_count[e]});
  matmul(m.jobs.data(), int(m.jobs.size()), rows, pool);

  // Each token's experts weighted and summed best first, as llama.cpp adds them.
  pool.parallel_for(n, [&](int64_t t, int) {
    float* y = ws_.proj.data() + t * d;
    for (int32_t k = 0; k < K; ++k) {
      const float w = m.weights[t * K + k];
      float* o = m.out.data() + int64_t(m.slot[t * K + k]) * d;
      if (L.expert_down_bias) add_in_place(o, L.expert_down_bias + int64_t(m.chosen[t * K + k]) * d, d);
      if (k == 0)
        for (int64_t i = 0; i < d; ++i) y[i] = o[i] * w;
      else
        for (int64_t i = 0; i < d; ++i) y[i] += o[i] * w;
    }
  });
}

}  // namespace nagare
