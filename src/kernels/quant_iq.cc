// Reference kernels for the non-linear 4-bit formats IQ4_NL (32-element blocks, activations in
// Q8_0) and IQ4_XS (256-element super-blocks with 6-bit sub-block scales, activations in Q8_K):
// the arithmetic of ggml's dequantize_row_iq4_*, quantize_iq4_* (without an importance matrix)
// and the generic ggml_vec_dot_iq4_*, float step for float step, so results match llama.cpp's
// scalar path bit for bit.

// Keep a * b + c two roundings (as the reference) even where the target has FMA.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_ref.h"

namespace nagare::ref {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // below this a sub-block counts as all zero
constexpr int kScaleTries = 7;          // the quantizer tries 2 * 7 + 1 scales around -max/127

// Round to nearest (ties to even) for |x| < 2^22 by ggml's float-add trick, so ties go its way.
inline int nearest_int(float x) {
  const float v = x + 12582912.0f;  // 1.5 * 2^23: the integer lands in the low mantissa bits
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// The index of the level of kIQ4Values nearest to x; a tie goes to the upper level, and NaN to
// the upper end of the bisection, as ggml's best_index_int8 decides them.
inline int nearest_level(float x) {
  if (x <= kIQ4Values[0]) return 0;
  if (x >= kIQ4Values[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < kIQ4Values[mid]) hi = mid;
    else lo = mid;
  }
  return x - kIQ4Values[hi - 1] < kIQ4Values[hi] - x ? hi - 1 : hi;
}

// The least-squares scale of one 32-element sub-block x (weights x^2), searched as ggml does
// without an importance matrix: levels chosen for each of 15 trial scales around -max/127, the
// one with the best weighted fit kept. 0 for an all-zero sub-block.
float best_subblock_scale(const float* x) {
  float w[32];
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    w[j] = x[j] * x[j];
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (amax < kGroupMaxEps) return 0.0f;
  // Sums of the weighted fit for inverse scale id: sum w q x and sum w q^2.
  auto fit = [&](float id, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0.0f;
    for (int j = 0; j < 32; ++j) {
      const float q = kIQ4Values[nearest_level(id * x[j])];
      sumqx += w[j] * q * x[j];
      sumq2 += w[j] * q * q;
    }
  };
  float sumqx, sumq2;
  fit(1 / (-max / float(kIQ4Values[0])), sumqx, sumq2);
  float d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
  float best = d * sumqx;
  for (int t = -kScaleTries; t <= kScaleTries; ++t) {
    fit(float(t + kIQ4Values[0]) / max, sumqx, sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// 32 levels -> 16 bytes: element j in the low nibble of byte j, element j + 16 in the high one.
inline void pack_levels(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
}

// sum_j a[j] * kIQ4Values[q_j] over one 32-element sub-block in Q4_0's nibble order (exact).
inline int32_t level_dot(const uint8_t* qs, const int8_t* a) {
  int32_t sum = 0;
  for (int j = 0; j < 16; ++j) {
    sum += a[j] * kIQ4Values[qs[j] & 0x0f];
    sum += a[j + 16] * kIQ4Values[qs[j] >> 4];
  }
  return sum;
}

}  // namespace

// ---- dequantization ----

void dequantize_row_iq4_nl(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_NL*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * float(kIQ4Values[x[i].qs[j] & 0x0f]);
      y[j + kQK / 2] = d * float(kIQ4Values[x[i].qs[j] >> 4]);
    }
  }
}

void dequantize_row_iq4_xs(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_XS*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK_K / 32; ++j, y += 32) {
      const float dl = d * float(iq4_xs_scale(x[i], j));
      const uint8_t* qs = x[i].qs + 16 * j;
      for (int k = 0; k < 16; ++k) {
        y[k] = dl * float(kIQ4Values[qs[k] & 0x0f]);
        y[k + 16] = dl * float(kIQ4Values[qs[k] >> 4]);
      }
    }
  }
}

// ---- quantization (ggml's quantize_iq4_nl / quantize_iq4_xs with no importance matrix, what
// llama-quantize writes without --imatrix) ----

void quantize_row_iq4_nl(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockIQ4_NL*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = best_subblock_scale(x);
    y[i].d = fp32_to_fp16(d);
    // Levels for the chosen scale itself, not its fp16 rounding (as the reference).
    const float id = d != 0.0f ? 1 / d : 0.0f;
    uint8_t L[kQK];
    for (int j = 0; j < kQK; ++j) L[j] = uint8_t(nearest_level(id * x[j]));
    pack_levels(L, y[i].qs);
  }
}

void quantize_row_iq4_xs(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockIQ4_XS*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float scales[kQK_K / 32];
    float max_scale = 0.0f, amax_scale = 0.0f;
    for (int j = 0; j < kQK_K / 32; ++j) {
      scales[j] = best_subblock_scale(x + 32 * j);
      if (std::fabs(scales[j]) > amax_scale) {
        amax_scale = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    // The super-block scale maps the largest sub-block scale to -32, the 6-bit code's end.
    const float d = -max_scale / 32;
    y[i].d = fp32_to_fp16(d);
    y[i].scales_h = 0;
    const float id = d != 0.0f ? 1 / d : 0.0f;
    for (int j = 0; j < kQK_K / 32; ++j) {
      const int l = std::clamp(nearest_int(id * scales[j]), -32, 31);
      const float dl = d * float(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.0f;
      uint8_t L[32];
      for (int k = 0; k < 32; ++k) L[k] = uint8_t(nearest_level(idl * x[32 * j + k]));
      pack_levels(L, y[i].qs + 16 * j);
      const int code = l + 32;
      if (j % 2 == 0) y[i].scales_l[j / 2] = uint8_t(code & 0x0f);
      else y[i].scales_l[j / 2] |= uint8_t((code & 0x0f) << 4);
      y[i].scales_h = uint16_t(y[i].scales_h | ((code >> 4) << (2 * j)));
    }
  }
}

// ---- dot products: ggml's generic float order, one step per 32-element (sub-)block ----
//   IQ4_NL  sumf += (d_a * d_w) * float(sumi)
//   IQ4_XS  sumf += ((d_w * d_a) * float(ls - 32)) * float(sumi)   (d_a a full float)

float vec_dot_iq4_nl_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_NL*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i)
    sumf += (fp16_to_fp32(y[i].d) * fp16_to_fp32(x[i].d)) * float(level_dot(x[i].qs, y[i].qs));
  return sumf;
}

float vec_dot_iq4_xs_q8_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_XS*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d4d8 = fp16_to_fp32(x[i].d) * y[i].d;
    for (int j = 0; j < kQK_K / 32; ++j)
      sumf += (d4d8 * float(iq4_xs_scale(x[i], j))) * float(level_dot(x[i].qs + 16 * j, y[i].qs + 32 * j));
  }
  return sumf;
}

}  // namespace nagare::ref
