// Reference kernels for the low-bit K-quants Q2_K and Q3_K (256-element super-blocks of 16
// sub-blocks, activations in Q8_K): the arithmetic of ggml's dequantize_row_q{2,3}_K,
// quantize_row_q{2,3}_K_ref (what llama-quantize writes without an importance matrix:
// quantize_q{2,3}_K call them when quant_weights is null) byte for byte, and dot products with
// exact integer sums: Q2_K float step for float step as the generic ggml_vec_dot_q2_K_q8_K
// (llama.cpp's scalar path bit for bit), Q3_K with one float step per super-block (see below).

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
#include "kernels/quant_k_search.h"
#include "kernels/quant_ref.h"

namespace nagare::ref {
namespace {

// ggml's make_q3_quants with do_rmse: symmetric quants L in [0, 2 nmax) around nmax, then up
// to five passes that move single quants while that improves the x^2-weighted fit. Returns the
// scale; an all-zero group gets L = 0 (not nmax) and scale 0, as the reference.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        const int new_l = std::max(-nmax, std::min(nmax - 1, nearest_int(x[i] * sl2 / slx)));
        if (new_l != L[i]) {
          slx += w * x[i] * new_l;
          sl2 += w * new_l * new_l;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// 256 2-bit values -> 64 bytes: L[128 k + 32 s + l] into bits 2s, 2s+1 of qs[32 k + l].
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

// The inverse: element e's low two bits.
inline int low2(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3; }

// Q3_K's quant of element e, high bit applied: in [-4, 3].
inline int q3_value(const BlockQ3_K& b, int e) { return low2(b.qs, e) - ((b.hmask[e % 32] >> (e / 32)) & 1 ? 0 : 4); }

}  // namespace

// ---- dequantization ----

void dequantize_row_q2_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float min = fp16_to_fp32(x[i].dmin);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float dl = d * float(x[i].scales[j] & 0x0f), ml = min * float(x[i].scales[j] >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * float(low2(x[i].qs, 16 * j + l)) - ml;
    }
  }
}

void dequantize_row_q3_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    int8_t sc[16];
    unpack_q3_k_scales(x[i].scales, sc);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float dl = d * float(sc[j]);
      for (int l = 0; l < 16; ++l) *y++ = dl * float(q3_value(x[i], 16 * j + l));
    }
  }
}

// ---- quantization (quantize_row_q2_K_ref / quantize_row_q3_K_ref) ----

void quantize_row_q2_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ2_K*>(dst);
  constexpr float kScaleSteps = 15.f;  // 4-bit scales and mins
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    uint8_t L[kQK_K], Laux[16];
    float weights[16], scales[16], mins[16];
    float max_scale = 0, max_min = 0;  // the mins are subtracted, so both are >= 0
    for (int j = 0; j < kQK_K / 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    // The codes as the reference stores them: int to uint8_t, wrapping (never clamped).
    if (max_scale > 0) {
      const float iscale = kScaleSteps / max_scale;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      y[i].d = fp32_to_fp16(max_scale / kScaleSteps);
    } else {
      std::memset(y[i].scales, 0, sizeof y[i].scales);
      y[i].d = fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = kScaleSteps / max_min;
      for (int j = 0; j < 16; ++j) y[i].scales[j] = uint8_t(y[i].scales[j] | (nearest_int(iscale * mins[j]) << 4));
      y[i].dmin = fp32_to_fp16(max_min / kScaleSteps);
    } else {
      y[i].dmin = fp32_to_fp16(0.f);
    }
    // The quants again against the stored (rounded) scales and mins.
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = fp16_to_fp32(y[i].d) * float(y[i].scales[j] & 0x0f);
      if (d == 0.0f) continue;
      const float dm = fp16_to_fp32(y[i].dmin) * float(y[i].scales[j] >> 4);
      for (int l = 0; l < 16; ++l) L[16 * j + l] = uint8_t(std::clamp(nearest_int((x[16 * j + l] + dm) / d), 0, 3));
    }
    pack_2bit(L, y[i].qs);
  }
}

void quantize_row_q3_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ3_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0, amax = 0;  // the scale of largest magnitude, with its sign
    for (int j = 0; j < kQK_K / 16; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    std::memset(y[i].scales, 0, sizeof y[i].scales);
    if (max_scale != 0.0f) {
      // -32 / max_scale puts the largest scale at code 0 (= -32): the 6-bit range's long end.
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        const int l = std::clamp<int>(int8_t(nearest_int(iscale * scales[j])), -32, 31) + 32;
        if (j < 8) y[i].scales[j] = uint8_t(l & 0x0f);
        else y[i].scales[j - 8] = uint8_t(y[i].scales[j - 8] | ((l & 0x0f) << 4));
        y[i].scales[8 + j % 4] = uint8_t(y[i].scales[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
      }
      y[i].d = fp32_to_fp16(1 / iscale);
    } else {
      y[i].d = fp32_to_fp16(0.f);
    }
    int8_t sc[16];
    unpack_q3_k_scales(y[i].scales, sc);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = fp16_to_fp32(y[i].d) * float(sc[j]);
      if (d == 0.0f) continue;
      for (int l = 0; l < 16; ++l) L[16 * j + l] = int8_t(std::clamp(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
    }
    // Quants 4-7 keep their high bit in hmask (element e: bit e / 32 of byte e % 32).
    std::memset(y[i].hmask, 0, sizeof y[i].hmask);
    uint8_t low[kQK_K];
    for (int e = 0; e < kQK_K; ++e) {
      if (L[e] > 3) y[i].hmask[e % 32] = uint8_t(y[i].hmask[e % 32] | (1 << (e / 32)));
      low[e] = uint8_t(L[e] > 3 ? L[e] - 4 : L[e]);
    }
    pack_2bit(low, y[i].qs);
  }
}

// ---- dot products: ggml's generic float order ----
//   Q2_K  sumf += (dall * float(isum)) - (dmin * float(summs)),  dall = d_a * d_w,
//         dmin = d_a * dmin_w; isum = sum_j sc_j * (q . a)_j, summs = sum_j m_j * bsums_j
//   Q3_K  sumf += (d_w * d_a) * float(isum), isum = sum_j (sc_j - 32) * (q . a)_j exact: one
//         float step per super-block, as Q6_K. (ggml's generic kernel keeps eight float lanes,
//         lane l summing the elements e % 8 == l; that order cost the SIMD tiles 2.5-5x. Both
//         are within rounding of llama.cpp's SIMD kernels, which have orders of their own.)

float vec_dot_q2_k_q8_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t summs = 0, isum = 0;
    for (int j = 0; j < 16; ++j) {
      summs += int32_t(y[i].bsums[j]) * (x[i].scales[j] >> 4);
      int32_t s = 0;
      for (int l = 0; l < 16; ++l) s += int32_t(y[i].qs[16 * j + l]) * low2(x[i].qs, 16 * j + l);
      isum += (x[i].scales[j] & 0x0f) * s;
    }
    const float dall = y[i].d * fp16_to_fp32(x[i].d);
    const float dmin = y[i].d * fp16_to_fp32(x[i].dmin);
    sumf += dall * float(isum) - dmin * float(summs);
  }
  return sumf;
}

float vec_dot_q3_k_q8_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t sc[16];
    unpack_q3_k_scales(x[i].scales, sc);
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t s = 0;
      for (int l = 0; l < 16; ++l) s += int32_t(y[i].qs[16 * j + l]) * q3_value(x[i], 16 * j + l);
      isum += sc[j] * s;
    }
    const float d = fp16_to_fp32(x[i].d) * y[i].d;
    sumf += d * float(isum);
  }
  return sumf;
}

}  // namespace nagare::ref
