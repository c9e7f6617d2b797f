#include "model/model_config.h"

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

ModelConfig ModelConfig::from_gguf(const GgufFile& f) {
  ModelConfig c;
  c.arch = f.get_string("general.architecture");
  const std::string& a = c.arch;
  if (a != "llama" && a != "gemma3")
    throw Error(f.path() + ": unsupported model architecture '" + a + "' (supported: llama, gemma3)");

  auto req = [&](const std::string& k) { return positive(f, a + "." + k, f.get_int(a + "." + k)); };
  auto opt = [&](const std::string& k, int64_t def) { return positive(f, a + "." + k, f.get_int(a + "." + k, def)); };
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
  } else if (scaling != "none") {
    throw Error(f.path() + ": unsupported rope scaling type '" + scaling + "'");
  }
  if (c.n_head % c.n_head_kv != 0) throw Error(f.path() + ": head_count is not a multiple of head_count_kv");
  if (c.rope_dims > c.head_dim_k || c.rope_dims % 2) throw Error(f.path() + ": invalid rope dimension count");

  const GgufTensor& embd = f.tensor("token_embd.weight");
  if (embd.dims.size() != 2 || embd.dims[0] != c.n_embd)
    throw Error(f.path() + ": token_embd.weight has the wrong shape for embedding_length " + std::to_string(c.n_embd));
  c.n_vocab = int32_t(embd.dims[1]);
  c.layer_uses_swa.assign(c.n_layer, false);

  if (a == "llama") {
    c.rope_style = RopeStyle::kNorm;
    c.activation = FfnActivation::kSilu;
  } else if (a == "gemma3") {
    c.rope_style = RopeStyle::kNeox;
    c.activation = FfnActivation::kGeluTanh;
    c.embed_scale = std::sqrt(float(c.n_embd));
    c.qk_norm = true;
    c.post_norms = true;
    c.sliding_window = opt("attention.sliding_window", 0);
    // Gemma 3: five local (sliding-window) layers, then one global layer, repeating. Local
    // layers rotate with base 10000; global ones with the file's base and scaling.
    int32_t pattern = int32_t(f.get_int(a + ".attention.sliding_window_pattern", 6));
    if (pattern <= 0) throw Error(f.path() + ": invalid sliding_window_pattern");
    for (int32_t il = 0; il < c.n_layer; ++il) c.layer_uses_swa[il] = c.sliding_window > 0 && il % pattern < pattern - 1;
    c.rope_base_swa = 10000.f;
    c.rope_scale_swa = 1.f;
  }
  c.attn_scale = 1.0f / std::sqrt(float(c.head_dim_k));
  return c;
}

}  // namespace nagare
