// Quantized tensor formats (GGUF block layouts): dequantization, activation quantization and
// the dot product of one weight row with one quantized activation row. The entry points run the
// active ISA's kernels (kernels/dispatch.h); the scalar reference kernels are in quant_ref.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/ggml_type.h"

namespace nagare {

// Weight types the engine computes with: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4.
bool is_supported_weight_type(GgmlType type);

// Bytes taken by n elements of `type` (n a multiple of the type's block size).
size_t row_bytes(GgmlType type, int64_t n);

// src holds n elements of `type` (n a multiple of its block size); writes n floats.
// Supported for every weight type above and for Q8_1 and Q8_K.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// The format a weight type's dot product takes its activations in: for the quantized types as
// llama.cpp chooses it (so numerics match the reference): Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL/MXFP4,
// Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants (Q2_K ... Q6_K) and IQ4_XS; F32 for F32, F16 and
// BF16 (llama.cpp rounds to F16 / BF16 there; unrounded, the F16 SmolLM2 comes 3x closer to the
// exact forward, docs/accuracy.md, and the tiles read the activations without converting them).
GgmlType activation_type_for(GgmlType weight_type);

// Quantizes n floats into `act_type` (one of Q8_0, Q8_1, Q8_K, F16, BF16, F32) with ggml's
// reference arithmetic (quantize_row_*_ref), byte for byte on every ISA. Also accepts the weight
// types can_quantize() names (reference quantizers, for tests and tools; not the imatrix ones).
void quantize_row(GgmlType act_type, const float* src, void* dst, int64_t n);

// Dot product of n elements: w_row in weight_type, act_row in activation_type_for(weight_type).
// Exact integer sums per block, then scaled. The scalar kernels follow ggml's scalar (generic)
// kernels' float order for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL/MXFP4, IQ4_XS (one step per
// 32-element sub-block, kernels/quant_iq.cc) and Q2_K (one step per super-block,
// kernels/quant_k_low.cc), and for Q3_K/Q4_K/Q5_K/Q6_K one float step per super-block
// (kernels/quant_k.cc, quant_k_low.cc); F32/F16/BF16 in 8 lanes of fused multiply-adds, folded
// in halves (kernels/quant.cc, kernels/gemm_float.h). The SIMD kernels (AVX2, AVX-512, NEON) and
// matmul()'s tile kernels give the scalar bits for every type.
float vec_dot(GgmlType weight_type, const void* w_row, const void* act_row, int64_t n);

// The three entry points above throw Error for a type they do not support or an n that is not
// a multiple of the type's block size (a caller's bug, normally caught at model load).

// Elements per block of `type` (1 for F32/F16/BF16); 0 for a type this build does not know.
int64_t block_elements(GgmlType type);

// Whether quantize_row accepts `type`: the activation types above plus Q4_0, Q4_1, Q5_0, Q5_1,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4 (each as llama-quantize writes it without
// an imatrix).
bool can_quantize(GgmlType type);

// Attention over a quantized KV cache (model/attention.cc), for key and value types whose
// vec_dot takes Q8_0 activations (Q8_0, Q4_0). The same bits as the per-row calls they stand for,
// on every ISA; x86 has Q8_0 and Q4_0 kernels that take eight keys, or three heads' weights, at a time.
// Scores: out[j * out_stride + i] = vec_dot(type, key_i, q_j, n) * scale for n_keys keys (rows of n
// elements, key_stride bytes apart) and n_q queries quantized to Q8_0 (q_stride bytes apart).
void attention_scores_quantized(GgmlType type, const void* keys, int64_t key_stride, int64_t n_keys, const void* q,
                                int64_t q_stride, int64_t n_q, int64_t n, float scale, float* out, int64_t out_stride);
// Values: for each head h < n_heads and row i < n_rows in order, out_h[e] = fma(w[h * w_stride + i],
// v_i[e], out_h[e]) (out_h = out + h * out_stride, e < n), v_i row i dequantized (rows v_stride bytes apart).
void attention_values_quantized(GgmlType type, float* out, int64_t out_stride, const float* w, int64_t w_stride,
                                int64_t n_heads, const void* v, int64_t v_stride, int64_t n_rows, int64_t n);

using AttentionScoresFn = void (*)(const void* keys, int64_t key_stride, int64_t n_keys, const void* q, int64_t q_stride,
                                   int64_t n_q, int64_t n, float scale, float* out, int64_t out_stride);
using AttentionValuesFn = void (*)(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                                   const void* v, int64_t v_stride, int64_t n_rows, int64_t n);

// Kernel lookup, for loops that dispatch once and call many times; nullptr when unsupported.
// The returned functions check nothing: n must be a multiple of the block size.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);
using VecDotFn = float (*)(const void* w_row, const void* act_row, int64_t n);
DequantizeRowFn dequantize_row_fn(GgmlType type);
QuantizeRowFn quantize_row_fn(GgmlType type);
VecDotFn vec_dot_fn(GgmlType weight_type);

}  // namespace nagare
