// Reference kernels for the K-quants Q4_K, Q5_K, Q6_K and their activation format Q8_K: the
// arithmetic of ggml's quantize_row_*_ref, dequantize_row_* and the generic vec_dot_*_q8_K,
// including the order of the float sums, so results match llama.cpp's scalar path exactly.

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

// Sub-block j's 6-bit scale and min from the 12 packed bytes of Q4_K / Q5_K: j < 4 take the
// low 6 bits of bytes j and j+4; j >= 4 combine a nibble of byte j+4 with the top 2 bits of
// bytes j-4 (scale) and j (min).
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = uint8_t((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

inline void unpack_scales_mins(const uint8_t* packed, uint8_t scales[8], uint8_t mins[8]) {
  for (int j = 0; j < 8; ++j) get_scale_min_k4(j, packed, &scales[j], &mins[j]);
}

inline void pack_scale_min(int j, uint8_t ls, uint8_t lm, uint8_t* packed) {
  if (j < 4) {
    packed[j] = ls;
    packed[j + 4] = lm;
  } else {
    packed[j + 4] = uint8_t((ls & 0x0f) | ((lm & 0x0f) << 4));
    packed[j - 4] |= uint8_t((ls >> 4) << 6);
    packed[j] |= uint8_t((lm >> 4) << 6);
  }
}

// ggml's make_qx_quants with rmse_type 1 and no importance weights (what Q6_K's reference
// uses): symmetric quants L in [0, 2*nmax) around nmax, best of 19 candidate scales.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
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
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = int8_t(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = int8_t(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Shared by Q4_K and Q5_K: per-sub-block scale/min search, then 6-bit packing of both against
// the super-block's d and dmin, then the final quants L (in [0, nmax]) against the packed values.
void quantize_k_scales_and_quants(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out,
                                  uint16_t* dmin_out, uint8_t* packed, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float max_scale = 0, max_min = 0;  // mins are subtracted, so both are >= 0
  for (int j = 0; j < kQK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(packed, 0, kKScaleBytes);
  for (int j = 0; j < kQK_K / 32; ++j) {
    const uint8_t ls = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
    const uint8_t lm = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
    pack_scale_min(j, ls, lm, packed);
  }
  *d_out = fp32_to_fp16(max_scale / 63.f);
  *dmin_out = fp32_to_fp16(max_min / 63.f);
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, packed, &sc, &m);
    const float d = fp16_to_fp32(*d_out) * sc;
    if (d == 0.0f) continue;
    const float dm = fp16_to_fp32(*dmin_out) * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

}  // namespace

// ---- dequantization ----

void dequantize_row_q4_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float dmin = fp16_to_fp32(x[i].dmin);
    uint8_t sc[8], m[8];
    unpack_scales_mins(x[i].scales, sc, m);
    const uint8_t* q = x[i].qs;
    for (int j = 0; j < 8; j += 2, q += 32) {
      const float d1 = d * sc[j], m1 = dmin * m[j];
      const float d2 = d * sc[j + 1], m2 = dmin * m[j + 1];
      for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
    }
  }
}

void dequantize_row_q5_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const float dmin = fp16_to_fp32(x[i].dmin);
    uint8_t sc[8], m[8];
    unpack_scales_mins(x[i].scales, sc, m);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int j = 0; j < 8; j += 2, ql += 32) {
      const float d1 = d * sc[j], m1 = dmin * m[j];
      const float d2 = d * sc[j + 1], m2 = dmin * m[j + 1];
      const uint8_t u1 = uint8_t(1u << j), u2 = uint8_t(2u << j);
      for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

void dequantize_row_q6_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = fp16_to_fp32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * float(sc[is + 0]) * float(q1);
        y[l + 32] = d * float(sc[is + 2]) * float(q2);
        y[l + 64] = d * float(sc[is + 4]) * float(q3);
        y[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
    }
  }
}

void dequantize_row_q8_k(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) *y++ = x[i].d * float(x[i].qs[j]);
}

// ---- quantization ----

void quantize_row_q4_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ4_K*>(dst);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_k_scales_and_quants(x, 15, -1.0f, 20, &y[i].d, &y[i].dmin, y[i].scales, L);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < kQK_K; j += 64, q += 32)
      for (int l = 0; l < 32; ++l) q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
  }
}

void quantize_row_q5_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ5_K*>(dst);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_k_scales_and_quants(x, 31, -0.5f, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    uint8_t* qh = y[i].qh;
    uint8_t* ql = y[i].qs;
    std::memset(qh, 0, kQK_K / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int b = 0; b < kQK_K; b += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[b + j];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        int l2 = L[b + j + 32];
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = uint8_t(l1 | (l2 << 4));
      }
      m1 = uint8_t(m1 << 2);
      m2 = uint8_t(m2 << 2);
    }
  }
}

void quantize_row_q6_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ6_K*>(dst);
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      if (std::fabs(scale) > max_abs_scale) {
        max_abs_scale = std::fabs(scale);
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < kQK_K / 16; ++ib) y[i].scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float d = fp16_to_fp32(y[i].d) * y[i].scales[j];
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l + 0] & 0x0f;
        const uint8_t q2 = L[j + l + 32] & 0x0f;
        const uint8_t q3 = L[j + l + 64] & 0x0f;
        const uint8_t q4 = L[j + l + 96] & 0x0f;
        ql[l + 0] = uint8_t(q1 | (q3 << 4));
        ql[l + 32] = uint8_t(q2 | (q4 << 4));
        qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                        ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      // ggml leaves bsums unset here; zero them so the block is fully defined.
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // -127 (not -128) keeps every quant in [-127, 127], as ggml chose for its SIMD kernels.
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) y[i].qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = int16_t(sum);
    }
    y[i].d = 1 / iscale;
  }
}

// ---- dot products ----
// Each super-block's products summed exactly in integers (scaled by the sub-block scales), then
// one float step per super-block, in the order of the SIMD kernels (kernels/gemm_tiles.h), so
// every tier gives the same bits:
//   Q4_K, Q5_K  acc = (acc + (d_w * d_a) * float(isum)) - (dmin_w * d_a) * float(imin)
//   Q6_K        acc = acc + (d_w * d_a) * float(isum)
// ggml's generic kernels keep eight lane sums per row instead; the results agree to rounding
// (tests/unit/kernels/test_quant_golden.cc).

namespace {

// scale * the sum of the `len` products q[k] * a[k] (exact).
inline int32_t scaled_dot(const int8_t* q, const int8_t* a, int len, int32_t scale) {
  int32_t sum = 0;
  for (int k = 0; k < len; ++k) sum += int32_t(q[k]) * int32_t(a[k]);
  return scale * sum;
}

// min correction of Q4_K / Q5_K: sum over 16-element groups of bsum * the sub-block's min.
inline int32_t mins_dot(const BlockQ8_K& y, const uint8_t mins[8]) {
  int32_t sumi = 0;
  for (int j = 0; j < kQK_K / 16; ++j) sumi += int32_t(y.bsums[j]) * mins[j / 2];
  return sumi;
}

// acc after one Q4_K / Q5_K super-block: quants q, unpacked scales and mins, half scales d, dmin.
inline float q45_k_step(float acc, const int8_t* q, const uint8_t scales[8], const uint8_t mins[8], uint16_t d,
                        uint16_t dmin, const BlockQ8_K& y) {
  int32_t isum = 0;
  for (int j = 0; j < kQK_K / 32; ++j) isum += scaled_dot(q + 32 * j, y.qs + 32 * j, 32, scales[j]);
  const float plus = (fp16_to_fp32(d) * y.d) * float(isum);
  const float minus = (fp16_to_fp32(dmin) * y.d) * float(mins_dot(y, mins));
  return (acc + plus) - minus;
}

}  // namespace

float vec_dot_q4_k_q8_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t scales[8], mins[8];
    unpack_scales_mins(x[i].scales, scales, mins);
    int8_t q[kQK_K];
    for (int j = 0; j < kQK_K / 64; ++j) {
      for (int l = 0; l < 32; ++l) q[64 * j + l] = int8_t(x[i].qs[32 * j + l] & 0x0f);
      for (int l = 0; l < 32; ++l) q[64 * j + 32 + l] = int8_t(x[i].qs[32 * j + l] >> 4);
    }
    acc = q45_k_step(acc, q, scales, mins, x[i].d, x[i].dmin, y[i]);
  }
  return acc;
}

float vec_dot_q5_k_q8_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t scales[8], mins[8];
    unpack_scales_mins(x[i].scales, scales, mins);
    int8_t q[kQK_K];
    const uint8_t* qh = x[i].qh;
    for (int j = 0; j < kQK_K / 64; ++j) {
      const uint8_t m1 = uint8_t(1u << (2 * j)), m2 = uint8_t(2u << (2 * j));
      for (int l = 0; l < 32; ++l) q[64 * j + l] = int8_t((x[i].qs[32 * j + l] & 0x0f) + (qh[l] & m1 ? 16 : 0));
      for (int l = 0; l < 32; ++l) q[64 * j + 32 + l] = int8_t((x[i].qs[32 * j + l] >> 4) + (qh[l] & m2 ? 16 : 0));
    }
    acc = q45_k_step(acc, q, scales, mins, x[i].d, x[i].dmin, y[i]);
  }
  return acc;
}

float vec_dot_q6_k_q8_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t q[kQK_K];
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32) {
      int8_t* o = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        o[l + 0] = int8_t(((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32);
        o[l + 32] = int8_t(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
        o[l + 64] = int8_t(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        o[l + 96] = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int32_t isum = 0;
    for (int j = 0; j < kQK_K / 16; ++j) isum += scaled_dot(q + 16 * j, y[i].qs + 16 * j, 16, x[i].scales[j]);
    acc = acc + (fp16_to_fp32(x[i].d) * y[i].d) * float(isum);
  }
  return acc;
}

}  // namespace nagare::ref
