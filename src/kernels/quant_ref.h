// Scalar reference kernels, one per format, behind kernels/quant.h's dispatch. SIMD variants
// are tested against these; each takes n elements (a multiple of the block size) and checks
// nothing.
#pragma once

#include <cstdint>

namespace nagare::ref {

// Plain float types. Dot products accumulate float products in double (ggml's scalar path).
void dequantize_row_f32(const void* src, float* dst, int64_t n);
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
void quantize_row_f32(const float* src, void* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n);
float vec_dot_f32(const void* w, const void* a, int64_t n);
float vec_dot_f16(const void* w, const void* a, int64_t n);
float vec_dot_bf16(const void* w, const void* a, int64_t n);

// Legacy 32-element blocks (quant_legacy.cc).
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void dequantize_row_q8_1(const void* src, float* dst, int64_t n);
void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_1(const float* src, void* dst, int64_t n);
float vec_dot_q4_0_q8_0(const void* w, const void* a, int64_t n);
float vec_dot_q4_1_q8_1(const void* w, const void* a, int64_t n);
float vec_dot_q5_0_q8_0(const void* w, const void* a, int64_t n);
float vec_dot_q5_1_q8_1(const void* w, const void* a, int64_t n);
float vec_dot_q8_0_q8_0(const void* w, const void* a, int64_t n);

// K-quants, 256-element super-blocks (quant_k.cc).
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);
float vec_dot_q4_k_q8_k(const void* w, const void* a, int64_t n);
float vec_dot_q5_k_q8_k(const void* w, const void* a, int64_t n);
float vec_dot_q6_k_q8_k(const void* w, const void* a, int64_t n);

// Non-linear 4-bit formats IQ4_NL (32-element blocks) and IQ4_XS (256) (quant_iq.cc).
void dequantize_row_iq4_nl(const void* src, float* dst, int64_t n);
void dequantize_row_iq4_xs(const void* src, float* dst, int64_t n);
void quantize_row_iq4_nl(const float* src, void* dst, int64_t n);
void quantize_row_iq4_xs(const float* src, void* dst, int64_t n);
float vec_dot_iq4_nl_q8_0(const void* w, const void* a, int64_t n);
float vec_dot_iq4_xs_q8_k(const void* w, const void* a, int64_t n);

// Low-bit K-quants Q2_K and Q3_K, 256-element super-blocks (quant_k_low.cc).
void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
float vec_dot_q2_k_q8_k(const void* w, const void* a, int64_t n);
float vec_dot_q3_k_q8_k(const void* w, const void* a, int64_t n);

// MXFP4, 32-element blocks of E2M1 values under an E8M0 scale (quant_mx.cc).
void dequantize_row_mxfp4(const void* src, float* dst, int64_t n);
void quantize_row_mxfp4(const float* src, void* dst, int64_t n);
float vec_dot_mxfp4_q8_0(const void* w, const void* a, int64_t n);

}  // namespace nagare::ref
