// AArch64 NEON raw-layout kernels (GGUF blocks): activation quantizers, vec_dot for every weight
// type, and the float row operations of kernels/ops.h. Baseline ARMv8-A Advanced SIMD only.
// Built with -ffp-contract=off (CMakeLists.txt; the whole AArch64 build has it, so the scalar
// reference is not fused either), so every float step below is the one written.
//
// What each kernel must equal (tests/unit/kernels/test_simd.cc, test_matmul.cc):
//  - quantizers: the scalar reference's bytes (same float operations, std::round's ties away
//    from zero, the reference's first-maximum choice; degenerate blocks go to the reference);
//  - vec_dot of the quantized formats: the reference's float order exactly; of the float
//    formats: the canonical SIMD order of quant_x86.h, so NEON gives the same bits as
//    AVX2/AVX-512 (and every format as its own packed GEMM);
//  - row operations: the scalar definitions (ops.cc) bit for bit.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/dispatch.h"
#include "kernels/expf_table.h"
#include "kernels/softmax_exp.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_ref.h"

namespace nagare {
namespace {

// Exact half <-> float conversions of single values (fcvt), kept local to this file.
inline float h2f(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
inline uint16_t f2h(float f) { return vget_lane_u16(vreinterpret_u16_f16(vcvt_f16_f32(vdupq_n_f32(f))), 0); }

inline float32x4_t load4_half(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
// Four values of a half or float row as floats (attention's keys and values).
inline float32x4_t load4(const uint16_t* p) { return load4_half(p); }
inline float32x4_t load4(const float* p) { return vld1q_f32(p); }
inline float to_float(uint16_t h) { return h2f(h); }
inline float to_float(float f) { return f; }

// acc + the products of the 16 signed bytes of w and a, pairwise widened into 4 lanes. Every
// product fits 16 bits (|w|, |a| <= 128), so smull + sadalp is exact.
inline int32x4_t dot_s8(int32x4_t acc, int8x16_t w, int8x16_t a) {
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(a)));
  return vpadalq_s16(acc, vmull_high_s8(w, a));
}

// The sum of the products of 32 weight bytes (w0: elements 0-15, w1: 16-31) with 32 activations.
inline int32_t dot32(int8x16_t w0, int8x16_t w1, const int8_t* a) {
  return vaddvq_s32(dot_s8(dot_s8(vdupq_n_s32(0), w0, vld1q_s8(a)), w1, vld1q_s8(a + 16)));
}

// 0x10 in byte j where bit j of the 16 bits at p is set (the fifth bit of Q5 quants).
inline uint8x16_t bit4_from_bits(const uint8_t* p) {
  static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t spread = vcombine_u8(vdup_n_u8(p[0]), vdup_n_u8(p[1]));
  return vandq_u8(vtstq_u8(spread, vld1q_u8(kBit)), vdupq_n_u8(0x10));
}

// ---- activation quantizers ----

// One Q8_0 / Q8_1 block. The vector path covers blocks whose scaled values are small finite
// numbers (every block of real activations); the others (an infinite or NaN inverse scale from
// denormal inputs, NaN inputs) go to the reference, whose int8_t conversion of out-of-range
// values is the compiler's business and must not be guessed here.
template <bool kSum>
bool quantize_q8_block(const float* x, int8_t* qs, uint16_t* d_out, uint16_t* s_out) {
  float32x4_t v[8];
  float32x4_t m = vdupq_n_f32(0.0f);
  for (int k = 0; k < 8; ++k) {
    v[k] = vld1q_f32(x + 4 * k);
    m = vmaxq_f32(m, vabsq_f32(v[k]));
  }
  const float d = vmaxvq_f32(m) / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  float32x4_t mx = vdupq_n_f32(0.0f);
  for (auto& s : v) {
    s = vmulq_f32(s, vdupq_n_f32(id));
    mx = vmaxq_f32(mx, vabsq_f32(s));
  }
  if (!(vmaxvq_f32(mx) <= 200.0f)) return false;  // NaN fails too
  *d_out = f2h(d);
  int32x4_t q[8];
  for (int k = 0; k < 8; ++k) q[k] = vcvtaq_s32_f32(v[k]);  // round half away from zero: std::round
  for (int k = 0; k < 8; k += 4) {
    const int16x8_t a = vcombine_s16(vmovn_s32(q[k]), vmovn_s32(q[k + 1]));
    const int16x8_t b = vcombine_s16(vmovn_s32(q[k + 2]), vmovn_s32(q[k + 3]));
    vst1q_s8(qs + 4 * k, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
  }
  if constexpr (kSum) {
    int32x4_t s = q[0];
    for (int k = 1; k < 8; ++k) s = vaddq_s32(s, q[k]);
    *s_out = f2h(float(vaddvq_s32(s)) * d);
  }
  return true;
}

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i)
    if (!quantize_q8_block<false>(x + i * kQK, y[i].qs, &y[i].d, nullptr)) ref::quantize_row_q8_0(x + i * kQK, &y[i], kQK);
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i)
    if (!quantize_q8_block<true>(x + i * kQK, y[i].qs, &y[i].d, &y[i].s)) ref::quantize_row_q8_1(x + i * kQK, &y[i], kQK);
}

// The reference's nearest_int: round to nearest even by adding 1.5 * 2^23 and reading the low
// mantissa bits (defined for every input, inf and NaN included).
inline int32x4_t nearest_int(float32x4_t v) {
  const int32x4_t bits = vreinterpretq_s32_f32(vaddq_f32(v, vdupq_n_f32(12582912.0f)));
  return vsubq_s32(vandq_s32(bits, vdupq_n_s32(0x007fffff)), vdupq_n_s32(0x00400000));
}

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < kQK_K; k += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + k)));
    const float amax = vmaxvq_f32(m);
    if (!(amax > 0.0f)) {  // zero (or NaN) blocks: the reference decides
      ref::quantize_row_q8_k(x, &y[i], kQK_K);
      continue;
    }
    // The reference keeps the first element of largest magnitude (its sign picks the scale's).
    float max = 0;
    for (int k = 0; k < kQK_K; ++k)
      if (std::fabs(x[k]) == amax) {
        max = x[k];
        break;
      }
    const float iscale = -127.f / max;
    for (int k = 0; k < kQK_K; k += 16) {
      int32x4_t q[4];
      for (int c = 0; c < 4; ++c)
        q[c] = vminq_s32(nearest_int(vmulq_f32(vdupq_n_f32(iscale), vld1q_f32(x + k + 4 * c))), vdupq_n_s32(127));
      // int8_t(int): the low byte, as the reference stores it; the sums are of the stored bytes.
      const int16x8_t a = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
      const int16x8_t b = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
      const int8x16_t bytes = vcombine_s8(vmovn_s16(a), vmovn_s16(b));
      vst1q_s8(y[i].qs + k, bytes);
      y[i].bsums[k / 16] = int16_t(vaddlvq_s8(bytes));
    }
    y[i].d = 1 / iscale;
  }
}

void quantize_row_f16(const float* x, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(h + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; ++i) h[i] = f2h(x[i]);
}

// ---- dot products of the legacy formats: the reference's float order exactly ----

float vec_dot_q4_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const uint8x16_t q = vld1q_u8(x[i].qs);
    const int8x16_t w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), vdupq_n_s8(8));
    const int8x16_t w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
    const int32_t sumi = dot32(w0, w1, y[i].qs);
    sumf += float(sumi) * h2f(x[i].d) * h2f(y[i].d);
  }
  return sumf;
}

float vec_dot_q4_1(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const uint8x16_t q = vld1q_u8(x[i].qs);
    const int8x16_t w0 = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f)));
    const int8x16_t w1 = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
    const int32_t sumi = dot32(w0, w1, y[i].qs);
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * float(sumi) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sumf;
}

// Q5_0 / Q5_1 quants 0..31: low nibbles, plus bit j of qh as bit 4 of element j.
inline void q5_quants(const uint8_t* qs, const uint8_t* qh, int8x16_t& w0, int8x16_t& w1) {
  const uint8x16_t q = vld1q_u8(qs);
  w0 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0f)), bit4_from_bits(qh)));
  w1 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(q, 4), bit4_from_bits(qh + 2)));
}

float vec_dot_q5_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int8x16_t w0, w1;
    q5_quants(x[i].qs, x[i].qh, w0, w1);
    const int32_t sumi = dot32(vsubq_s8(w0, vdupq_n_s8(16)), vsubq_s8(w1, vdupq_n_s8(16)), y[i].qs);
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * float(sumi);
  }
  return sumf;
}

float vec_dot_q5_1(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int8x16_t w0, w1;
    q5_quants(x[i].qs, x[i].qh, w0, w1);
    const int32_t sumi = dot32(w0, w1, y[i].qs);
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * float(sumi) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sumf;
}

float vec_dot_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int32_t sumi = dot32(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16), y[i].qs);
    sumf += float(sumi) * (h2f(x[i].d) * h2f(y[i].d));
  }
  return sumf;
}

// ---- K-quants: exact integer sums per super-block, then the reference's float order ----

template <bool kQ5>
float vec_dot_q45_k(const void* w, const void* a, int64_t n) {
  using Block = std::conditional_t<kQ5, BlockQ5_K, BlockQ4_K>;
  const auto* x = static_cast<const Block*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    uint8_t sc[8], mn[8];
    unpack_k4_scales(x[i].scales, sc, mn);
    int32_t isum = 0;
    uint8x16_t qh[2] = {vdupq_n_u8(0), vdupq_n_u8(0)};
    if constexpr (kQ5) qh[0] = vld1q_u8(x[i].qh), qh[1] = vld1q_u8(x[i].qh + 16);
    for (int j = 0; j < 4; ++j) {
      // 32 bytes of qs: sub-block 2j in the low nibbles, 2j + 1 in the high ones.
      for (int half = 0; half < 2; ++half) {
        const int sb = 2 * j + half;
        uint8x16_t v[2];
        for (int c = 0; c < 2; ++c) {
          const uint8x16_t q = vld1q_u8(x[i].qs + 32 * j + 16 * c);
          v[c] = half == 0 ? vandq_u8(q, vdupq_n_u8(0x0f)) : vshrq_n_u8(q, 4);
          // Bit sb of qh[l] is bit 4 of element l of sub-block sb.
          if constexpr (kQ5) v[c] = vorrq_u8(v[c], vandq_u8(vshlq_u8(qh[c], vdupq_n_s8(int8_t(4 - sb))), vdupq_n_u8(0x10)));
        }
        const int32_t s = dot32(vreinterpretq_s8_u8(v[0]), vreinterpretq_s8_u8(v[1]), y[i].qs + 32 * sb);
        isum += int32_t(sc[sb]) * s;
      }
    }
    int32_t imin = 0;
    for (int j = 0; j < 8; ++j) imin += int32_t(mn[j]) * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    const float plus = (h2f(x[i].d) * y[i].d) * float(isum);
    const float minus = (h2f(x[i].dmin) * y[i].d) * float(imin);
    acc = (acc + plus) - minus;
  }
  return acc;
}

float vec_dot_q4_k(const void* w, const void* a, int64_t n) { return vec_dot_q45_k<false>(w, a, n); }
float vec_dot_q5_k(const void* w, const void* a, int64_t n) { return vec_dot_q45_k<true>(w, a, n); }

float vec_dot_q6_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  const uint8x16_t m4 = vdupq_n_u8(0x0f), m2 = vdupq_n_u8(0x03);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int32_t isum = 0;
    for (int h = 0; h < 2; ++h) {
      // Per 128-element half: ql[64h + l] holds element l (low nibble) and l + 64 (high) of the
      // half, ql[64h + 32 + l] elements l + 32 and l + 96; qh[32h + l] the top two bits of
      // elements l, l + 32, l + 64, l + 96 in its bit pairs 0, 1, 2, 3.
      for (int c16 = 0; c16 < 2; ++c16) {  // 16 of the 32 l values at a time: one sub-block each
        const int l0 = 16 * c16;
        const uint8x16_t ql0 = vld1q_u8(x[i].ql + 64 * h + l0), ql1 = vld1q_u8(x[i].ql + 64 * h + 32 + l0);
        const uint8x16_t qh = vld1q_u8(x[i].qh + 32 * h + l0);
        const uint8x16_t q[4] = {
            vorrq_u8(vandq_u8(ql0, m4), vshlq_n_u8(vandq_u8(qh, m2), 4)),
            vorrq_u8(vandq_u8(ql1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), m2), 4)),
            vorrq_u8(vshrq_n_u8(ql0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), m2), 4)),
            vorrq_u8(vshrq_n_u8(ql1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4)),
        };
        for (int c = 0; c < 4; ++c) {
          const int e0 = 128 * h + 32 * c + l0;  // first of the 16 elements: sub-block e0 / 16
          const int8x16_t qs = vsubq_s8(vreinterpretq_s8_u8(q[c]), vdupq_n_s8(32));
          const int32_t s = vaddvq_s32(dot_s8(vdupq_n_s32(0), qs, vld1q_s8(y[i].qs + e0)));
          isum += int32_t(x[i].scales[e0 / 16]) * s;
        }
      }
    }
    acc = acc + (h2f(x[i].d) * y[i].d) * float(isum);
  }
  return acc;
}

// ---- IQ4_NL / IQ4_XS: levels by table lookup (tbl), the reference's float order exactly ----

// The sum of the products of one 32-element (sub-)block's levels (16 bytes of nibbles, Q4_0's
// order) with its 32 activations.
inline int32_t iq4_dot32(const uint8_t* qs, const int8_t* a, int8x16_t table) {
  const uint8x16_t q = vld1q_u8(qs);
  return dot32(vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(0x0f))), vqtbl1q_s8(table, vshrq_n_u8(q, 4)), a);
}

float vec_dot_iq4_nl(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_NL*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int8x16_t table = vld1q_s8(kIQ4Values);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) sumf += (h2f(y[i].d) * h2f(x[i].d)) * float(iq4_dot32(x[i].qs, y[i].qs, table));
  return sumf;
}

float vec_dot_iq4_xs(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_XS*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int8x16_t table = vld1q_s8(kIQ4Values);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d4d8 = h2f(x[i].d) * y[i].d;
    for (int j = 0; j < 8; ++j)
      sumf += (d4d8 * float(iq4_xs_scale(x[i], j))) * float(iq4_dot32(x[i].qs + 16 * j, y[i].qs + 32 * j, table));
  }
  return sumf;
}

#include "kernels/quant_neon_low.h"

// ---- float row operations: the scalar definitions of ops.cc, operation for operation ----

// Eight running sums (element i in lane i mod 8: lanes 0-3 in a0, 4-7 in a1), combined
// pairwise, then the tail in order.
inline float sum_lanes_pairwise(float32x4_t a0, float32x4_t a1) {
  float l[8];
  vst1q_f32(l, a0);
  vst1q_f32(l + 4, a1);
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

float op_dot_f32(const float* a, const float* b, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = vaddq_f32(a0, vmulq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    a1 = vaddq_f32(a1, vmulq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4)));
  }
  float sum = sum_lanes_pairwise(a0, a1);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float op_dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = vfmaq_f32(a0, vld1q_f32(a + i), load4_half(b + i));
    a1 = vfmaq_f32(a1, vld1q_f32(a + i + 4), load4_half(b + i + 4));
  }
  float sum = sum_lanes_pairwise(a0, a1);
  for (; i < n; ++i) sum = std::fma(a[i], h2f(b[i]), sum);
  return sum;
}

void op_axpy_f16(float* y, float w, const uint16_t* x, int64_t n) {
  const float32x4_t wv = vdupq_n_f32(w);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), wv, load4_half(x + i)));
  for (; i < n; ++i) y[i] = std::fma(w, h2f(x[i]), y[i]);
}

void op_axpy_f32(float* y, float w, const float* x, int64_t n) {
  const float32x4_t wv = vdupq_n_f32(w);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), wv, vld1q_f32(x + i)));
  for (; i < n; ++i) y[i] = std::fma(w, x[i], y[i]);
}

// Attention's scores (ops.h's dot_f32_f16_key_groups and dot_f32_key_groups; ops_x86.h's twin): a
// lane per (row, key), a group's eight keys in two vectors loaded once per element for all R rows.
struct KeyGroupTiles {
  static constexpr int kRows = 4;  // 32 registers: up to 24 accumulators
  template <int R> static constexpr int kGroups = R == 4 ? 3 : R == 3 ? 4 : R == 2 ? 6 : 8;
  template <int R, int G, typename T>
  static void tile(const float* q, int64_t q_stride, const T* const* groups, int64_t stride, int64_t n, float scale,
                   float* out, int64_t out_stride) {
    float32x4_t acc[R][G][2] = {};
    const float* qr[R];
    for (int r = 0; r < R; ++r) qr[r] = q + r * q_stride;
    const T* k[G];
    for (int g = 0; g < G; ++g) k[g] = groups[g];
    for (int64_t e = 0; e < n; ++e) {
      float32x4_t qe[R];
      for (int r = 0; r < R; ++r) qe[r] = vdupq_n_f32(qr[r][e]);
      for (int g = 0; g < G; ++g) {
        const float32x4_t k0 = load4(k[g]), k1 = load4(k[g] + 4);
        k[g] += stride;
        for (int r = 0; r < R; ++r) {
          acc[r][g][0] = vfmaq_f32(acc[r][g][0], qe[r], k0);
          acc[r][g][1] = vfmaq_f32(acc[r][g][1], qe[r], k1);
        }
      }
    }
    const float32x4_t sv = vdupq_n_f32(scale);
    for (int r = 0; r < R; ++r)
      for (int g = 0; g < G; ++g) {
        vst1q_f32(out + r * out_stride + 8 * g, vmulq_f32(acc[r][g][0], sv));
        vst1q_f32(out + r * out_stride + 8 * g + 4, vmulq_f32(acc[r][g][1], sv));
      }
  }
};

#include "kernels/key_group_tiling.h"

// out[j] += w_i * v_i[j] for the runs' rows i in order, with half or float values: each output
// chunk stays in registers over all the rows.
template <typename T>
void axpy_rows_one_head(float* out, const float* w, const RowRun<T>* runs, int64_t n_runs, int64_t v_stride, int64_t n) {
  int64_t d = 0;
  for (; d + 32 <= n; d += 32) {
    float32x4_t acc[8];
    for (int c = 0; c < 8; ++c) acc[c] = vld1q_f32(out + d + 4 * c);
    const float* wr = w;
    for (int64_t j = 0; j < n_runs; ++j) {
      const T* vr = runs[j].rows + d;
      for (int64_t r = 0; r < runs[j].count; ++r, vr += v_stride) {
        const float32x4_t wv = vdupq_n_f32(*wr++);
        for (int c = 0; c < 8; ++c) acc[c] = vfmaq_f32(acc[c], wv, load4(vr + 4 * c));
      }
    }
    for (int c = 0; c < 8; ++c) vst1q_f32(out + d + 4 * c, acc[c]);
  }
  for (; d + 4 <= n; d += 4) {
    float32x4_t acc = vld1q_f32(out + d);
    const float* wr = w;
    for (int64_t j = 0; j < n_runs; ++j)
      for (int64_t r = 0; r < runs[j].count; ++r) acc = vfmaq_f32(acc, vdupq_n_f32(*wr++), load4(runs[j].rows + r * v_stride + d));
    vst1q_f32(out + d, acc);
  }
  for (; d < n; ++d) {
    const float* wr = w;
    for (int64_t j = 0; j < n_runs; ++j)
      for (int64_t r = 0; r < runs[j].count; ++r) out[d] = std::fma(*wr++, to_float(runs[j].rows[r * v_stride + d]), out[d]);
  }
}

// ops.h's axpy_f16_rows (T = uint16_t) and axpy_f32_rows (T = float).
template <typename T>
void op_axpy_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads, const RowRun<T>* runs,
                  int64_t n_runs, int64_t v_stride, int64_t n) {
  for (int64_t h = 0; h < n_heads; ++h) axpy_rows_one_head(out + h * out_stride, w + h * w_stride, runs, n_runs, v_stride, n);
}

// ref::exp_glibc (kernels/expf_table.h) for two values in double lanes: the same fused
// multiply-adds (vfmaq_f64(c, a, b) = fma(a, b, c)), table and special cases.
inline float32x2_t exp2_lanes(float32x2_t x) {
  using namespace expf_detail;
  const float64x2_t xd = vcvt_f64_f32(x);
  const float64x2_t inv = vdupq_n_f64(kInvLn2N), shift = vdupq_n_f64(kShift);
  const float64x2_t z = vfmaq_f64(shift, inv, xd);
  const uint64x2_t ki = vreinterpretq_u64_f64(z);
  const float64x2_t kd = vsubq_f64(z, shift);
  const float64x2_t r = vfmaq_f64(vnegq_f64(kd), inv, xd);
  const uint64x2_t idx = vandq_u64(ki, vdupq_n_u64(31));
  uint64x2_t tab = vdupq_n_u64(kTable[vgetq_lane_u64(idx, 0)]);
  tab = vsetq_lane_u64(kTable[vgetq_lane_u64(idx, 1)], tab, 1);
  const float64x2_t s = vreinterpretq_f64_u64(vaddq_u64(tab, vshlq_n_u64(ki, 47)));
  const float64x2_t p = vfmaq_f64(vdupq_n_f64(kC1), vdupq_n_f64(kC0), r);
  const float64x2_t r2 = vmulq_f64(r, r);
  float64x2_t y = vfmaq_f64(vdupq_n_f64(1.0), vdupq_n_f64(kC2), r);
  y = vfmaq_f64(y, p, r2);
  return vcvt_f32_f64(vmulq_f64(y, s));
}

inline float32x4_t exp4(float32x4_t x) {
  using namespace expf_detail;
  float32x4_t e = vcombine_f32(exp2_lanes(vget_low_f32(x)), exp2_lanes(vget_high_f32(x)));
  // The cases glibc takes off the fast path (-inf lands in the underflow one), in the order
  // ops_x86.h applies them.
  e = vbslq_f32(vcltq_f32(x, vdupq_n_f32(kTiny)), vdupq_n_f32(0x1p-149f), e);
  e = vbslq_f32(vcltq_f32(x, vdupq_n_f32(kUnderflow)), vdupq_n_f32(0.0f), e);
  e = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(kOverflow)), vdupq_n_f32(INFINITY), e);
  const uint32x4_t ordered = vceqq_f32(x, x);
  return vbslq_f32(ordered, e, vaddq_f32(x, x));
}

// Lane-wise maxima, then across lanes: max is exact, so any order gives the scalar's value
// (vmaxnm returns the number where x is NaN).
float op_max_f32(const float* x, int64_t n, float init) {
  int64_t i = 0;
  float m = init;
  if (n >= 4) {
    float32x4_t acc = vdupq_n_f32(init);
    for (; i + 4 <= n; i += 4) acc = vmaxnmq_f32(vld1q_f32(x + i), acc);
    m = vmaxnmvq_f32(acc);
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// ref::exp_softmax (kernels/softmax_exp.h) on four lanes, operation for operation
// (vfmaq_f32(c, a, b) = fma(a, b, c), vfmsq_f32(c, a, b) = fma(-a, b, c)).
inline float32x4_t exp4_softmax(float32x4_t x) {
  using namespace softmax_exp_detail;
  const float32x4_t xc = vminq_f32(vmaxq_f32(x, vdupq_n_f32(kMin)), vdupq_n_f32(kMax));
  const float32x4_t n = vsubq_f32(vfmaq_f32(vdupq_n_f32(kRound), xc, vdupq_n_f32(kLog2e)), vdupq_n_f32(kRound));
  const float32x4_t r = vfmsq_f32(vfmsq_f32(xc, n, vdupq_n_f32(kLn2Hi)), n, vdupq_n_f32(kLn2Lo));
  float32x4_t p = vdupq_n_f32(kPoly[0]);
  for (int k = 1; k < 8; ++k) p = vfmaq_f32(vdupq_n_f32(kPoly[k]), p, r);
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  float32x4_t e = vmulq_f32(p, vreinterpretq_f32_s32(bits));
  e = vbslq_f32(vcltq_f32(x, vdupq_n_f32(kMin)), vdupq_n_f32(0.0f), e);
  e = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(kMax)), vdupq_n_f32(INFINITY), e);
  return vbslq_f32(vceqq_f32(x, x), e, x);
}

// The exponentials eight at a time into the reference's eight running sums (lanes 0-3, 4-7).
float op_softmax_exp(float* x, float max, int64_t n) {
  const float32x4_t m = vdupq_n_f32(max);
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t e0 = exp4_softmax(vsubq_f32(vld1q_f32(x + i), m));
    const float32x4_t e1 = exp4_softmax(vsubq_f32(vld1q_f32(x + i + 4), m));
    vst1q_f32(x + i, e0);
    vst1q_f32(x + i + 4, e1);
    a0 = vaddq_f32(a0, e0);
    a1 = vaddq_f32(a1, e1);
  }
  float sum = sum_lanes_pairwise(a0, a1);
  for (; i < n; i += 4) {
    float tail[4] = {};
    const int64_t k = std::min<int64_t>(4, n - i);
    for (int64_t j = 0; j < k; ++j) tail[j] = x[i + j];
    vst1q_f32(tail, exp4_softmax(vsubq_f32(vld1q_f32(tail), m)));
    for (int64_t j = 0; j < k; ++j) sum += x[i + j] = tail[j];
  }
  return sum;
}

// gate / (1 + exp(-gate)) * up, with the same exponential as softmax_exp.
inline float32x4_t silu_mul4(float32x4_t g, float32x4_t u) {
  const float32x4_t e = exp4(vnegq_f32(g));
  return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
}

void op_silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, silu_mul4(vld1q_f32(gate + i), vld1q_f32(up + i)));
  if (i < n) {
    float g[4] = {}, u[4] = {}, o[4];
    for (int64_t j = i; j < n; ++j) g[j - i] = gate[j], u[j - i] = up[j];
    vst1q_f32(o, silu_mul4(vld1q_f32(g), vld1q_f32(u)));
    for (int64_t j = i; j < n; ++j) out[j] = o[j - i];
  }
}

void op_scale_round_fp16(float* x, float s, int64_t n) {
  const float32x4_t sv = vdupq_n_f32(s);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vcvt_f32_f16(vcvt_f16_f32(vmulq_f32(vld1q_f32(x + i), sv))));
  for (; i < n; ++i) x[i] = h2f(f2h(x[i] * s));
}

void op_fp16_to_fp32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, load4_half(src + i));
  for (; i < n; ++i) dst[i] = h2f(src[i]);
}

void op_fp32_to_fp16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
  for (; i < n; ++i) dst[i] = f2h(src[i]);
}

// out = gelu(gate) * up with GELU looked up by the half-precision gate in `table`: 0 at or
// below -10, the identity at or above 10. NEON has no gather: the four lookups are scalar.
void op_gelu_table_mul(const uint16_t* table, const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t x = vld1q_f32(gate + i);
    uint16_t h[4], g[4];
    vst1_u16(h, vreinterpret_u16_f16(vcvt_f16_f32(x)));
    for (int j = 0; j < 4; ++j) g[j] = table[h[j]];
    float32x4_t gv = load4_half(g);
    gv = vbslq_f32(vcleq_f32(x, vdupq_n_f32(-10.0f)), vdupq_n_f32(0.0f), gv);
    gv = vbslq_f32(vcgeq_f32(x, vdupq_n_f32(10.0f)), x, gv);
    vst1q_f32(out + i, vmulq_f32(gv, vld1q_f32(up + i)));
  }
  for (; i < n; ++i) {
    const float x = gate[i];
    const float g = x <= -10.0f ? 0.0f : x >= 10.0f ? x : h2f(table[f2h(x)]);
    out[i] = g * up[i];
  }
}

}  // namespace

void register_neon_quant(KernelTable& k) {
  k.quantize[int(GgmlType::F16)] = quantize_row_f16;
  k.quantize[int(GgmlType::Q8_0)] = quantize_row_q8_0;
  k.quantize[int(GgmlType::Q8_1)] = quantize_row_q8_1;
  k.quantize[int(GgmlType::Q8_K)] = quantize_row_q8_k;
  k.vec_dot[int(GgmlType::Q4_0)] = vec_dot_q4_0;
  k.vec_dot[int(GgmlType::Q4_1)] = vec_dot_q4_1;
  k.vec_dot[int(GgmlType::Q5_0)] = vec_dot_q5_0;
  k.vec_dot[int(GgmlType::Q5_1)] = vec_dot_q5_1;
  k.vec_dot[int(GgmlType::Q8_0)] = vec_dot_q8_0;
  k.vec_dot[int(GgmlType::Q4_K)] = vec_dot_q4_k;
  k.vec_dot[int(GgmlType::Q5_K)] = vec_dot_q5_k;
  k.vec_dot[int(GgmlType::Q6_K)] = vec_dot_q6_k;
  k.vec_dot[int(GgmlType::IQ4_NL)] = vec_dot_iq4_nl;
  k.vec_dot[int(GgmlType::IQ4_XS)] = vec_dot_iq4_xs;
  k.vec_dot[int(GgmlType::Q2_K)] = vec_dot_q2_k;
  k.vec_dot[int(GgmlType::Q3_K)] = vec_dot_q3_k;
  k.vec_dot[int(GgmlType::MXFP4)] = vec_dot_mxfp4;

  k.dot_f32 = op_dot_f32;
  k.dot_f32_f16 = op_dot_f32_f16;
  k.axpy_f16 = op_axpy_f16;
  k.axpy_f32 = op_axpy_f32;
  k.axpy_f16_rows = op_axpy_rows<uint16_t>;
  k.axpy_f32_rows = op_axpy_rows<float>;
  k.dot_f32_f16_key_groups = key_groups_tiled<KeyGroupTiles, uint16_t>;
  k.dot_f32_key_groups = key_groups_tiled<KeyGroupTiles, float>;
  k.max_f32 = op_max_f32;
  k.softmax_exp = op_softmax_exp;
  k.silu_mul = op_silu_mul;
  k.scale_round_fp16 = op_scale_round_fp16;
  k.fp16_to_fp32 = op_fp16_to_fp32;
  k.fp32_to_fp16 = op_fp32_to_fp16;
  k.gelu_table_mul = op_gelu_table_mul;
}

}  // namespace nagare
#endif
