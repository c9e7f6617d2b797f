// Element-wise and small reduction operations of a transformer layer (float32).
#pragma once

#include <cstdint>

namespace nagare {

// y = x / sqrt(mean(x^2) + eps) * weight (weight may be null: plain normalization). y may alias x.
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);
// rms_norm of n_rows consecutive rows of n (each row's result as rms_norm gives it), faster than
// one call per row. y may alias x.
void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps);

enum class RopeStyle { kNorm, kNeox };  // pairs (2i, 2i+1) as llama; pairs (i, i + d/2) as GPT-NeoX/Gemma

// YaRN context extension (gpt-oss): frequencies between the correction dimensions blend
// interpolation (scaled positions) and extrapolation, and cos/sin are scaled by mscale, as ggml's
// rope_yarn computes them. ext_factor 0: off.
struct YarnParams {
  float ext_factor = 0.f;
  float corr_low = 0.f, corr_high = 0.f;  // ggml_rope_yarn_corr_dims
  float mscale = 1.f;
};

// Precomputed rotation frequencies for one head dimension and base; apply() rotates in place.
class Rope {
 public:
  Rope() = default;
  // freq_factors (rot_dims/2 values, may be null) divide each frequency, as llama 3.1's rope_freqs.
  Rope(int32_t rot_dims, float freq_base, float freq_scale, RopeStyle style, const float* freq_factors = nullptr,
       YarnParams yarn = {});
  // In two halves, so a token's angles are computed once and serve every layer and head: the
  // cosines and sines of the half_dims() angles at `pos`, then the rotation of the first
  // rot_dims elements of each of n_heads vectors of length head_dim by them.
  int32_t half_dims() const { return rot_dims_ / 2; }
  void angles(int32_t pos, float* cos_out, float* sin_out) const;
  void rotate(float* x, int32_t n_heads, int32_t head_dim, const float* cos_in, const float* sin_in) const;

 private:
  int32_t rot_dims_ = 0;
  float freq_base_ = 10000.f, freq_scale_ = 1.f;
  RopeStyle style_ = RopeStyle::kNorm;
  const float* freq_factors_ = nullptr;
  YarnParams yarn_;
};

void silu_mul(const float* gate, const float* up, float* out, int64_t n);       // silu(gate) * up
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n);  // gelu(gate) * up
// y <- gelu(x) as ggml computes it on the CPU: the tanh form looked up by x rounded to half
// (BERT's FFN activation).
void gelu(const float* x, float* y, int64_t n);
// y <- (x - mean) / sqrt(var + eps) * weight + bias (bias may be null), as ggml_norm followed by
// the weight and bias: BERT's LayerNorm.
void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n, float eps);
void add_in_place(float* x, const float* y, int64_t n);
void scale_in_place(float* x, float s, int64_t n);
// x <- x * a + y * b, a multiply, a multiply and an add per element (no fused multiply-add): the
// fold of two softmax partials.
void blend_in_place(float* x, float a, const float* y, float b, int64_t n);
// x <- cap * tanh(x / cap), as ggml computes it (scale by 1 / cap, tanh, scale by cap): Gemma 2's
// soft-capping of attention scores and logits.
void soft_cap(float* x, float cap, int64_t n);

// Half-float rows <-> float rows (F16C where the active ISA has it; exact either way).
void fp16_to_fp32_row(const uint16_t* src, float* dst, int64_t n);
void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n);
// Eight running sums (element i in lane i mod 8), added pairwise, then the tail in order: one
// fixed order, the same bits on every ISA.
float dot_f32(const float* a, const float* b, int64_t n);
// dot_f32(a, b converted to float), except that each product is added by a fused multiply-add,
// and y[i] = fma(w, float(x[i]), y[i]): attention's operations on the half-precision KV cache.
float dot_f32_f16(const float* a, const uint16_t* b, int64_t n);
void axpy_f16(float* y, float w, const uint16_t* x, int64_t n);
// y[i] = fma(w, x[i], y[i]): attention's value pass over a quantized KV cache's dequantized rows.
void axpy_f32(float* y, float w, const float* x, int64_t n);
// `count` value rows from `rows` on, a row stride apart: the rows of one KV head in one block of
// the cache, or an encoder's values of one head.
template <typename T>
struct RowRun {
  const T* rows;
  int64_t count;
};
// Attention's value pass for n_heads query rows over the same value rows, taken run after run
// (the query heads of a GQA group over half-precision KV cache rows, block after block, or an
// encoder's query rows of one head over its float values), the same bits as single-row
// axpy_f16 / axpy_f32 calls: with v_i the i-th row of the runs together,
//   out[h * out_stride + j] = fma(w[h * w_stride + i], float(v_i[j]), out[h * out_stride + j])
// for i = 0, 1, ... (in that order), j < n, h < n_heads. One call for a whole span's blocks keeps
// each output chunk in registers over all of them.
void axpy_f16_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                   const RowRun<uint16_t>* runs, int64_t n_runs, int64_t v_stride, int64_t n);
void axpy_f32_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                   const RowRun<float>* runs, int64_t n_runs, int64_t v_stride, int64_t n);
// Attention's scores: n_q query rows (q_stride apart, n elements each) against groups of eight
// keys stored transposed, as the KV cache keeps them within a block (half keys) and an encoder
// lays out its float keys: element e of key l of group g at groups[g][e * stride + l]. For
// g < n_groups, l < 8:
//   out[j * out_stride + 8 * g + l] = scale * s, s = fma(q_j[n-1], k[n-1], ... fma(q_j[0], k[0], 0)),
// one chain of fused multiply-adds per (row, key) in element order, so that a SIMD version can
// give each (row, key) a lane and still compute the same bits, whatever its tiling.
void dot_f32_f16_key_groups(const float* q, int64_t n_q, int64_t q_stride, const uint16_t* const* groups, int64_t n_groups,
                            int64_t stride, int64_t n, float scale, float* out, int64_t out_stride);
void dot_f32_key_groups(const float* q, int64_t n_q, int64_t q_stride, const float* const* groups, int64_t n_groups,
                        int64_t stride, int64_t n, float scale, float* out, int64_t out_stride);
// The largest of init and x[0..n) (NaNs in x are passed over): a softmax's max.
float max_f32(const float* x, int64_t n, float init);
// Softmax numerators: x[i] = exp(x[i] - max) for i < n, returning their sum: eight running sums
// (element i in lane i mod 8) added pairwise, then the tail in order. exp is computed in float
// arithmetic (kernels/softmax_exp.h, within about an ulp of exp), the same bits on every ISA.
float softmax_exp(float* x, float max, int64_t n);
// x[i] = float(half(x[i] * s)): scaling, then rounding to half precision (round to nearest even).
void scale_round_fp16(float* x, float s, int64_t n);

}  // namespace nagare
