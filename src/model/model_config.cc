#include "model/model_config.h"

#include <algorithm>
#include <cmath>

#include "gguf/gguf_file.h"
#include "util/error.h"

namespace nagare {
namespace {

int32_t positive(const GgufFile& f, const std::string& key, int64_t v) {
  if (v <= 0 || v > (int64_t(1) << 24)) throw Error(f.path() + ": invalid value " + std::to_string(v) + " for '" + key + "'");
  return int32_t(v);
}

}  // namespace

const char* ModelConfig::supported_architectures() {
  return "llama, qwen2, qwen3, qwen3moe, phi3, gemma2, gemma3, gpt-oss, bert, nomic-bert (embeddings only)";
}

ModelConfig ModelConfig::from_gguf(const GgufFile& f) {
  ModelConfig c;
  c.arch = f.get_string("general.architecture");
  const std::string& a = c.arch;
  if (a != "llama" && a != "qwen2" && a != "qwen3" && a != "qwen3moe" && a != "phi3" && a != "gemma2" && a != "gemma3" &&
      a != "gpt-oss" && a != "bert" && a != "nomic-bert")
    throw Error(f.path() + ": unsupported model architecture '" + a + "' (supported: " + supported_architectures() + ")");

  auto req = [&](const std::string& k) { return positive(f, a + "." + k, f.get_int(a + "." + k)); };
  auto opt = [&](const std::string& k, int64_t def) { return positive(f, a + "." + k, f.get_int(a + "." + k, def)); };
  auto opt_float = [&](const std::string& k, double def) {
    const double v = f.get_float(a + "." + k, def);
    if (!std::isfinite(v) || v < 0) throw Error(f.path() + ": invalid value " + std::to_string(v) + " for '" + a + "." + k + "'");
    return float(v);
  };
  c.n_embd = req("embedding_length");
  c.n_layer = req("block_count");
  c.n_head = req("attention.head_count");
  c.n_head_kv = opt("attention.head_count_kv", c.n_head);
  c.n_ff = req("feed_forward_length");
  c.n_ctx_train = opt("context_length", 2048);
  c.head_dim_k = opt("attention.key_length", c.n_embd / c.n_head);
  c.head_dim_v = opt("attention.value_length", c.n_embd / c.n_head);
  c.rope_dims = opt("rope.dimension_count", c.head_dim_k);
  c.norm_eps = float(f.get_float(a + ".attention.layer_norm_rms_epsilon", 1e-5));
  c.rope_base = float(f.get_float(a + ".rope.freq_base", 10000.0));
  std::string scaling = f.get_string(a + ".rope.scaling.type", "none");
  if (scaling == "linear") {
    double factor = f.get_float(a + ".rope.scaling.factor", 1.0);
    if (!(factor > 0)) throw Error(f.path() + ": invalid rope scaling factor");
    c.rope_scale = float(1.0 / factor);
  } else if (scaling == "longrope" && a == "phi3") {
    // LongRoPE's factors come as tensors (Model); which pair applies depends on the context.
  } else if (scaling == "yarn") {
    // As llama.cpp sets YaRN up: extrapolation factor 1, correction dimensions from beta_fast and
    // beta_slow at the original context, and cos/sin scaled by 1 + 0.1 ln(factor) (ggml's own
    // correction; llama.cpp's attention factor cancels to 1 unless the file sets one).
    const double factor = f.get_float(a + ".rope.scaling.factor", 1.0);
    if (!(factor >= 1)) throw Error(f.path() + ": invalid rope scaling factor for yarn");
    if (f.get_float(a + ".rope.scaling.yarn_log_multiplier", 0.0) != 0.0)
      throw Error(f.path() + ": rope scaling yarn with a log multiplier (DeepSeek style) is not supported");
    c.rope_scale = float(1.0 / factor);
    const float orig = float(opt("rope.scaling.original_context_length", c.n_ctx_train));
    const float beta_fast = opt_float("rope.scaling.yarn_beta_fast", 32.0), beta_slow = opt_float("rope.scaling.yarn_beta_slow", 1.0);
    auto corr_dim = [&](float beta) {
      return float(c.rope_dims) * std::log(orig / (beta * 2 * float(M_PI))) / (2 * std::log(c.rope_base));
    };
    c.yarn.ext_factor = opt_float("rope.scaling.yarn_ext_factor", 1.0);
    c.yarn.corr_low = std::max(0.0f, std::floor(corr_dim(beta_fast)));
    c.yarn.corr_high = std::min(float(c.rope_dims - 1), std::ceil(corr_dim(beta_slow)));
    c.yarn.mscale = opt_float("rope.scaling.attn_factor", 1.0);
  } else if (scaling != "none") {
    throw Error(f.path() + ": unsupported rope scaling type '" + scaling + "'");
  }
  // As llama.cpp: the short LongRoPE factors up to the original context (the training context
  // when the file names none), the long ones beyond it.
  if (f.find_tensor("rope_factors_long.weight")) c.rope_orig_ctx = opt("rope.scaling.original_context_length", c.n_ctx_train);
  if (c.n_head % c.n_head_kv != 0) throw Error(f.path() + ": head_count is not a multiple of head_count_kv");
  if (c.rope_dims > c.head_dim_k || c.rope_dims % 2) throw Error(f.path() + ": invalid rope dimension count");

  const GgufTensor& embd = f.tensor("token_embd.weight");
  if (embd.dims.size() != 2 || embd.dims[0] != c.n_embd)
    throw Error(f.path() + ": token_embd.weight has the wrong shape for embedding_length " + std::to_string(c.n_embd));
  c.n_vocab = int32_t(embd.dims[1]);
  c.layer_uses_swa.assign(c.n_layer, false);
  c.attn_scale = 1.0f / std::sqrt(float(c.head_dim_k));

  // Every family but llama rotates the two halves of a head (NeoX style); llama rotates pairs.
  c.rope_style = a == "llama" ? RopeStyle::kNorm : RopeStyle::kNeox;
  c.qk_norm = a == "qwen3" || a == "qwen3moe" || a == "gemma3";
  // A mixture-of-experts FFN's counts and weight scale (llama.cpp: a scale of 0 means unscaled).
  // Without expert_feed_forward_length (and not `ff_required`) an expert is n_ff / n_expert_used
  // wide, as llama.cpp reads it.
  auto read_experts = [&](bool ff_required) {
    c.n_expert = req("expert_count");
    c.n_expert_used = req("expert_used_count");
    if (c.n_expert_used > c.n_expert) throw Error(f.path() + ": expert_used_count exceeds expert_count");
    c.n_ff_expert = ff_required ? req("expert_feed_forward_length")
                                : opt("expert_feed_forward_length", c.n_ff / c.n_expert_used);
    c.expert_weights_scale = opt_float("expert_weights_scale", 1.0);
    if (c.expert_weights_scale == 0.f) c.expert_weights_scale = 1.f;
  };
  // Sliding-window layers: in each run of `pattern` layers all but the last (llama.cpp's rule).
  auto read_sliding_window = [&](int32_t window, int64_t default_pattern) {
    c.sliding_window = window;
    const int64_t pattern = f.get_int(a + ".attention.sliding_window_pattern", default_pattern);
    if (pattern <= 0) throw Error(f.path() + ": invalid sliding_window_pattern");
    for (int32_t il = 0; il < c.n_layer; ++il) c.layer_uses_swa[il] = c.sliding_window > 0 && il % pattern < pattern - 1;
  };
  if (a == "qwen3moe") {
    read_experts(false);
    // Qwen3-MoE: softmax over all experts, the chosen ones' weights renormalized (as llama.cpp
    // builds it; a file may say otherwise).
    const int64_t gating = f.get_int(a + ".expert_gating_func", 1);
    if (gating != 1 && gating != 2) throw Error(f.path() + ": unsupported expert_gating_func " + std::to_string(gating));
    c.expert_gating = gating == 2 ? ExpertGating::kSigmoid : ExpertGating::kSoftmax;
    c.expert_weights_norm = f.get_bool(a + ".expert_weights_norm", true);
  }
  if (a == "gpt-oss") {
    // gpt-oss: every FFN a mixture of experts with biases and a clamped swiglu, the chosen
    // experts weighted by the softmax of their router logits; attention sinks; a 128-token
    // sliding window on alternate layers; its FFN input norm is named post_attention_norm.
    read_experts(true);
    c.expert_gating = ExpertGating::kSoftmaxOfChosen;
    c.expert_activation = ExpertActivation::kSwigluOai;
    c.attn_sinks = true;
    c.ffn_norm_tensor = "post_attention_norm";
    read_sliding_window(req("attention.sliding_window"), 2);
    c.rope_base_swa = float(f.get_float(a + ".rope.freq_base_swa", c.rope_base));
    c.rope_scale_swa = c.rope_scale;
  }
  if (a == "gemma2" || a == "gemma3") {
    c.activation = FfnActivation::kGeluTanh;
    c.embed_scale = std::sqrt(float(c.n_embd));
    c.post_norms = true;
    // Gemma 2 alternates local (sliding-window) and global layers; Gemma 3 has five local
    // layers, then one global layer, repeating.
    read_sliding_window(opt("attention.sliding_window", a == "gemma2" ? 4096 : 0), a == "gemma2" ? 2 : 6);
    // Gemma 3's local layers rotate with base 10000 whatever the global layers' base and scaling.
    c.rope_base_swa = a == "gemma3" ? 10000.f : c.rope_base;
    c.rope_scale_swa = a == "gemma3" ? 1.f : c.rope_scale;
  }
  if (a == "gemma2") {
    c.attn_softcap = opt_float("attn_logit_softcapping", 50.0);
    c.final_softcap = opt_float("final_logit_softcapping", 30.0);
    // Gemma 2 27B scales queries by n_embd / n_head rather than the head width (as llama.cpp
    // decides it: by the layer count).
    if (c.n_layer == 46) c.attn_scale = 1.0f / std::sqrt(float(c.n_embd / c.n_head));
  }
  if (a == "bert" || a == "nomic-bert") {
    // Encoders: LayerNorm epsilon under its own key; bert's GELU FFN has no gate (Model binds
    // it so), nomic-bert's is SwiGLU; bert adds absolute position embeddings instead of rotating.
    c.encoder = true;
    c.norm_eps = float(f.get_float(a + ".attention.layer_norm_epsilon", 1e-12));
    if (a == "bert") c.activation = FfnActivation::kGeluTanh;
    if (c.n_head_kv != c.n_head || c.head_dim_k != c.head_dim_v) throw Error(f.path() + ": an encoder needs as many KV heads as heads");
  }
  // A rope attention factor (LongRoPE, Phi 3.5) multiplies the rotated q and k, so the scores
  // by its square; exact only when every dimension is rotated.
  // (YaRN takes it into its cos/sin instead, as ggml does.)
  const float attn_factor = opt_float("rope.scaling.attn_factor", 1.0);
  if (attn_factor != 1.f && c.yarn.ext_factor == 0.f) {
    if (c.rope_dims != c.head_dim_k) throw Error(f.path() + ": rope attn_factor with partial rotation is not supported");
    c.attn_scale *= attn_factor * attn_factor;
  }
  return c;
}

}  // namespace nagare
