// Hyperparameters of a decoder-only transformer, read from GGUF metadata. One config describes
// every supported architecture; the forward pass branches on its fields, not on names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace nagare {

class GgufFile;

enum class FfnActivation { kSilu, kGeluTanh };
// How a mixture-of-experts router turns its logits into expert weights.
// kSoftmax, kSigmoid: probabilities of all experts, the largest chosen; kSoftmaxOfChosen
// (gpt-oss): the largest logits chosen, their softmax the weights.
enum class ExpertGating { kSoftmax, kSigmoid, kSoftmaxOfChosen };
// The experts' gated activation: silu(gate) * up, or gpt-oss's clamped swiglu
// (min(gate, 7) * sigmoid(1.702 * min(gate, 7)) * (clamp(up, -7, 7) + 1)).
enum class ExpertActivation { kSilu, kSwigluOai };

struct ModelConfig {
  std::string arch;
  int32_t n_vocab = 0;
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim_k = 0;
  int32_t head_dim_v = 0;
  int32_t n_ff = 0;
  int32_t n_ctx_train = 0;
  float norm_eps = 1e-5f;

  int32_t rope_dims = 0;
  RopeStyle rope_style = RopeStyle::kNorm;
  float rope_base = 10000.f;
  float rope_scale = 1.f;      // multiplies positions (1 / linear scaling factor)
  float rope_base_swa = 10000.f;  // sliding-window layers (gemma3)
  float rope_scale_swa = 1.f;
  YarnParams yarn;  // YaRN context extension (rope.scaling.type yarn), every layer
  // LongRoPE (phi3 with rope_factors_long/short tensors): the context up to which the short
  // factors hold; a longer one takes the long factors (Model::use_context).
  int32_t rope_orig_ctx = 0;

  float embed_scale = 1.f;     // gemma multiplies embeddings by sqrt(n_embd)
  float attn_scale = 0.f;      // multiplies q.k; 1/sqrt(head_dim_k) unless the arch says otherwise
  bool qk_norm = false;        // per-head RMSNorm of q and k (gemma3, qwen3)
  bool post_norms = false;     // RMSNorm after attention and after the FFN (gemma2/3)
  std::string ffn_norm_tensor = "ffn_norm";  // blk.N.<this>.weight: the FFN's input norm
  // Soft-capping, cap * tanh(x / cap), of the attention scores and of the output logits
  // (gemma2); 0: none.
  float attn_softcap = 0.f;
  float final_softcap = 0.f;
  FfnActivation activation = FfnActivation::kSilu;

  // Mixture of experts (qwen3moe): every layer's FFN is n_expert expert FFNs of width n_ff_expert,
  // of which each token uses the n_expert_used its router weighs highest. 0 experts: dense.
  int32_t n_expert = 0;
  int32_t n_expert_used = 0;
  int32_t n_ff_expert = 0;
  ExpertGating expert_gating = ExpertGating::kSoftmax;
  bool expert_weights_norm = false;  // the chosen experts' weights divided by their sum
  float expert_weights_scale = 1.f;
  ExpertActivation expert_activation = ExpertActivation::kSilu;
  bool attn_sinks = false;  // a learned per-head logit in every attention softmax (gpt-oss)

  // An encoder (bert, nomic-bert): attention over the whole sequence (not causal), LayerNorms
  // after attention and after the FFN, no output projection; it computes embeddings only, each
  // sequence whole in one forward (model/encoder.cc).
  bool encoder = false;

  int32_t sliding_window = 0;  // tokens; 0: none
  std::vector<bool> layer_uses_swa;

  // The architectures from_gguf accepts, for messages: "llama, qwen2, ...".
  static const char* supported_architectures();
  // Reads and checks the hyperparameters; throws Error naming the file for an unknown
  // architecture or inconsistent values.
  static ModelConfig from_gguf(const GgufFile& file);
};

}  // namespace nagare
