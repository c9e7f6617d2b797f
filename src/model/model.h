// A loaded transformer: weights stay in the mmapped GGUF file; forward(Batch) computes the logits
// of the batch's marked tokens and fills their KV slots (decoders), or the hidden states of whole
// sequences (encoders: bert, nomic-bert, model/encoder.cc).
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model_config.h"
#include "util/thread_pool.h"

namespace nagare {

class Model {
 public:
  // Opens and checks the file: architecture, every tensor's presence, shape and type.
  static std::unique_ptr<Model> load(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }
  // Weight bytes one decoded token reads: every matrix (its packed copy where there is one),
  // the output projection included. The numerator of the generation roofline.
  size_t weight_bytes_per_token() const;

  // Sets up what depends on the longest sequence the caller will run (the engine's context):
  // LongRoPE models (phi3) rotate with their long factors beyond the original context, as
  // llama.cpp chooses by its context size. Before any forward; the default is the short factors.
  void use_context(int32_t n_ctx);

  // Runs the batch; writes n_vocab logits per token with want_logits set, in batch order, to
  // `logits` (batch.n_logits() * n_vocab floats), and n_embd floats per token with want_hidden
  // set to `hidden` (batch.n_hidden() * n_embd): its last hidden state after the output norm,
  // the output projection's input, which is what llama.cpp returns as a decoder's embeddings.
  // One batch may ask for both. Results for a token never depend on the rest of the batch.
  // An encoder (config().encoder) gives hidden states only, its last layer's output (it has no
  // output norm), uses no KV cache, and needs each sequence of the batch whole: all its tokens,
  // positions 0, 1, ... in order (it attends in both directions); it throws Error otherwise.
  // Not thread-safe: one engine loop drives one model.
  void forward(const Batch& batch, KvCache& kv, float* logits, ThreadPool& pool, float* hidden = nullptr);

 private:
  struct Layer {
    const float* attn_norm = nullptr;
    WeightMatrix wq, wk, wv, wo;  // q, k and v may be row ranges of one fused matrix (phi3)
    const float* bq = nullptr;  // biases of q, k and v (qwen2), or none
    const float* bk = nullptr;
    const float* bv = nullptr;
    const float* bo = nullptr;     // bias of the attention output (gpt-oss), or none
    const float* sinks = nullptr;  // per-head attention sink logits (gpt-oss), or none
    const float* q_norm = nullptr;
    const float* k_norm = nullptr;
    const float* post_attn_norm = nullptr;
    const float* ffn_norm = nullptr;
    WeightMatrix gate, up, down;  // gate and up may be the halves of one fused matrix (phi3)
    // Mixture of experts (config n_expert > 0), in place of gate, up and down: the router and
    // each expert's matrices (row ranges of the layer's 3-D expert tensors).
    WeightMatrix router;
    std::vector<WeightMatrix> expert_gate, expert_up, expert_down;
    // Biases (gpt-oss), or none: the router's (n_expert) and each expert's, expert after expert.
    const float* router_bias = nullptr;
    const float* expert_gate_bias = nullptr;
    const float* expert_up_bias = nullptr;
    const float* expert_down_bias = nullptr;
    const float* post_ffn_norm = nullptr;
    // Encoders: the LayerNorms' biases (post_attn_norm and post_ffn_norm are their weights) and
    // the FFN's biases, or none.
    const float* post_attn_norm_b = nullptr;
    const float* post_ffn_norm_b = nullptr;
    const float* up_b = nullptr;
    const float* down_b = nullptr;
    int32_t rope_slot = 0;  // ropes_[0]: the global rope; ropes_[1]: the sliding-window layers' (gemma3)
  };
  // One input quantized into each activation format at most once (q, k and v share it).
  class ActivationCache {
   public:
    void reset(const float* x, int64_t n_tokens, int64_t cols);
    const QuantizedActivations& get(GgmlType weight_type, ThreadPool& pool);
    // reset(x, ...) with the rows written and quantized for these weights in one pass of the
    // pool: make_rows(t0, t1) writes x's rows [t0, t1), which are then quantized while still in
    // cache, and one hand-off to the threads does both.
    template <typename MakeRows>
    void produce(std::initializer_list<GgmlType> weight_types, float* x, int64_t n_tokens, int64_t cols,
                 ThreadPool& pool, MakeRows&& make_rows);
    // The parts of produce for a caller with its own pass: begin() before it, then
    // quantize_rows(t0, t1) in it once x's rows [t0, t1) are written, each row once.
    void begin(std::initializer_list<GgmlType> weight_types, const float* x, int64_t n_tokens, int64_t cols);
    void quantize_rows(int64_t t0, int64_t t1);
    // Columns [c0, c1) of x's rows [t0, t1) once written, for a pass that makes rows in
    // pieces (c0, c1 on the blocks of every begun format).
    void quantize_cols(int64_t t0, int64_t t1, int64_t c0, int64_t c1);

   private:
    static constexpr int kFormats = 6;
    QuantizedActivations acts_[kFormats];
    bool valid_[kFormats] = {};
    int begun_[kFormats] = {}, n_begun_ = 0;  // the formats begin() made valid, which quantize_rows fills
    const float* x_ = nullptr;
    int64_t n_tokens_ = 0, cols_ = 0;
  };
  // A MoE layer's scratch: the tokens' choices, and the rows of every active expert's input and
  // output grouped by expert (expert 0's tokens first, each expert's in token order).
  struct MoeScratch {
    std::vector<float> router_logits;            // token x expert
    std::vector<float> probs;                    // expert probabilities, one token's per thread
    std::vector<int32_t> chosen;                 // token x n_expert_used: expert ids, best first
    std::vector<float> weights;                  // token x n_expert_used
    std::vector<int32_t> slot;                   // token x n_expert_used: its grouped row
    std::vector<int32_t> expert_first, expert_count;  // per expert: its first grouped row, its rows
    std::vector<int32_t> next_row;               // per expert: the next grouped row to fill
    std::vector<int32_t> row_token;              // grouped row -> token
    std::vector<float> gate, up, out;            // grouped rows: n_ff_expert, n_ff_expert, n_embd wide
    std::vector<QuantizedActivations> gate_in, up_in, down_in;  // per expert (up_in: if up's format differs)
    std::vector<MatmulJob> jobs;
  };
  // Scratch buffers, grown to the largest batch seen and then reused: nothing per token.
  // Attention's tiles (model/attention.cc): batch tokens [begin, end) of one sequence, which
  // read its keys [first_key, last_key].
  struct AttentionTile {
    int64_t begin, end;
    int32_t first_key, last_key;
  };
  // Query heads [first, first + count) of KV head g (GQA group g): with a tile's tokens, the
  // rows of an attention task. Row r is token r / count's head first + r % count.
  struct AttentionHeads {
    int32_t g, first, count;
  };
  // A split-span unit: a tile's rows of `heads`, or (kv_heads > 1) of the whole GQA groups of
  // KV heads heads.g .. heads.g + kv_heads - 1.
  struct AttentionUnit {
    int64_t tile;
    AttentionHeads heads;
    int32_t kv_heads = 1;
  };
  struct Workspace {
    std::vector<float> x, xn, q, k, v, attn, proj, gate, up, final_in;
    std::vector<float> key_groups, scores;  // the encoder's (kernels/ops.h's dot_f32_key_groups)
    std::vector<float> attn_scratch;  // per thread: attention_scratch_floats
    std::vector<AttentionTile> attn_tiles;
    std::vector<AttentionUnit> attn_units;
    std::vector<int64_t> attn_items;   // split spans: per (tile, group) its first span task
    std::vector<int64_t> attn_offsets; // and where its partials start in attn_partials
    std::vector<float> attn_partials;
    std::vector<float> rope_angles;  // per token and rope slot: cos[half], sin[half]
    std::vector<int64_t> out_rows;   // the tokens whose logits or hidden states a forward returns
    ActivationCache acts;
    ActivationCache ffn_acts;  // down's input, quantized while gate and up's pass still reads acts
    MoeScratch moe;
    void reserve(const ModelConfig& c, int64_t n_tokens, int64_t n_logits, int n_threads);
  };

  Model() = default;
  // Rows per task of the passes over tokens: the norms of several rows overlap in the pipeline.
  static constexpr int64_t kRowsPerTask = 8;
  void bind_weights();
  void bind_encoder_weights();  // model/encoder.cc
  void pack_weights();          // the matrices into the GEMM tiles' layout, where the ISA has them
  void forward_encoder(const Batch& batch, float* hidden, ThreadPool& pool);  // model/encoder.cc
  // Tokens per thread from which attention takes whole tokens as tasks.
  static constexpr int64_t kTokensPerThreadForRowTasks = 4;
  // Positions per attention span (model/attention.cc): a row's softmax is exact within a span,
  // and the spans' results are folded in order.
  static constexpr int32_t kSpan = 256;
  static size_t attention_scratch_floats(const ModelConfig& c);
  // Layer il's attention over the batch: q and k normalized (qk_norm) and rotated (q then
  // rounded to half), k and v stored in the cache, each token attending to its sequence; the output is left in ws_.attn
  // as the activations of the weights of type out_weight_type (the output projection).
  // decode_step: batch.one_token_per_sequence().
  void attention(const Batch& batch, KvCache& kv, int32_t layer, GgmlType out_weight_type, bool decode_step,
                 ThreadPool& pool);
  void rotate_and_cache(const Batch& batch, KvCache& kv, int32_t layer, int64_t t);
  float* rope_angles(int64_t t, int32_t rope_slot);  // cos[half], sin[half] of token t (ws_.rope_angles)
  void matmul_into(const WeightMatrix& w, int64_t n_tokens, float* out, ThreadPool& pool);
  // Layer il's feed-forward block up to down's input: gate and up, the activation, and its
  // quantization for down, left in ws_.ffn_acts.
  void gate_up_activation(const Layer& L, int64_t n_tokens, ThreadPool& pool);
  // Layer il's mixture-of-experts FFN (model/moe.cc) from its input quantized in ws_.acts; the
  // output, each token's chosen experts weighted and summed best first, is left in ws_.proj.
  // Each expert's matrices are read once for all the tokens routed to it.
  void moe_ffn(const Layer& L, int64_t n_tokens, ThreadPool& pool);

  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  std::vector<Layer> layers_;
  const GgufTensor* token_embd_ = nullptr;
  const float* output_norm_ = nullptr;
  WeightMatrix output_;
  Rope ropes_[2];  // by Layer::rope_slot
  const float* rope_factors_long_ = nullptr;  // LongRoPE (see use_context)
  const float* rope_factors_short_ = nullptr;
  bool rope_used_[2] = {};
  // Encoders: absolute position embeddings (bert; null for rotary nomic-bert), token type 0's
  // row (dequantized), and the LayerNorm of the summed embeddings.
  const GgufTensor* pos_embd_ = nullptr;
  std::vector<float> type_row_;
  const float* embd_norm_ = nullptr;
  const float* embd_norm_b_ = nullptr;
  Workspace ws_;
};

}  // namespace nagare
