// Reference kernels for MXFP4 (OCP microscaling FP4: 32 E2M1 values under one power-of-two
// E8M0 scale; activations in Q8_0): the arithmetic of ggml's dequantize_row_mxfp4,
// quantize_row_mxfp4_ref (quantize_mxfp4, what llama-quantize runs, ignores any importance
// matrix and calls it) and the generic ggml_vec_dot_mxfp4_q8_0, float step for float step.

// Keep a * b + c two roundings (as the reference) even where the target has FMA.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cmath>
#include <cstdint>

#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_ref.h"

namespace nagare::ref {
namespace {

// The code whose level times d is nearest x: the first of equals wins, so 0 beats -0 (code 8).
inline uint8_t nearest_code(float x, float d) {
  int best = 0;
  float best_err = std::fabs(float(kMXFP4Values[0]) * d - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(float(kMXFP4Values[i]) * d - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return uint8_t(best);
}

// sum_j a[j] * kMXFP4Values[q_j] over one block in Q4_0's nibble order (exact).
inline int32_t level_dot(const uint8_t* qs, const int8_t* a) {
  int32_t sum = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    sum += a[j] * kMXFP4Values[qs[j] & 0x0f];
    sum += a[j + kQK / 2] * kMXFP4Values[qs[j] >> 4];
  }
  return sum;
}

}  // namespace

void dequantize_row_mxfp4(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockMXFP4*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = e8m0_to_fp32_half(x[i].e);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = float(kMXFP4Values[x[i].qs[j] & 0x0f]) * d;
      y[j + kQK / 2] = float(kMXFP4Values[x[i].qs[j] >> 4]) * d;
    }
  }
}

// The scale 2^(floor(log2 max|x|) - 2) puts the largest magnitude in [4, 8) times it, the top
// binade of E2M1 (levels 4, 6 and, doubled, 8, 12 of kMXFP4Values with the halved scale).
void quantize_row_mxfp4(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockMXFP4*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = amax < std::fabs(x[j]) ? std::fabs(x[j]) : amax;
    // The reference converts the float exponent straight to uint8_t; below 2^-125 it is negative
    // and x86 keeps its low byte (cvttss2si), so do that explicitly, the same on every target.
    // (Infinite inputs, whose exponent has no integer value, are outside the format.)
    const float e = amax > 0.0f ? std::floor(std::log2(amax)) - 2 + 127 : 0.0f;
    y[i].e = uint8_t(int32_t(e));
    const float d = e8m0_to_fp32_half(y[i].e);
    for (int j = 0; j < kQK / 2; ++j)
      y[i].qs[j] = uint8_t(nearest_code(x[j], d) | (nearest_code(x[j + kQK / 2], d) << 4));
  }
}

// ggml's generic order: sumf += (d_a * d_w) * float(sumi), d_w = e8m0_to_fp32_half(e).
float vec_dot_mxfp4_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockMXFP4*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i)
    sumf += (fp16_to_fp32(y[i].d) * e8m0_to_fp32_half(x[i].e)) * float(level_dot(x[i].qs, y[i].qs));
  return sumf;
}

}  // namespace nagare::ref
