// AArch64 NEON tile kernels over packed weights (kernels/gemm.h): the template of
// kernels/gemm_tiles.h with 4 rows per 128-bit vector (a 16-row group is four vectors). The
// integer dots use baseline ARMv8-A instructions only (smull/smull2, addp, sadalp), so they run
// on every AArch64 CPU; the float steps are the template's, in its fixed order, and this file
// builds with -ffp-contract=off (CMakeLists.txt) so that no multiply-add is fused.
#if defined(__aarch64__)
#include <arm_neon.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/dispatch.h"
#include "kernels/quant_blocks.h"

namespace nagare {
namespace {

struct V {
  static constexpr int kLanes = 4, kVecs = 4;
  // 32 vector registers: one group by two tokens keeps 8 accumulators, 8 integer sums and 8
  // decoded weight vectors in registers; decode takes one group at a time as well.
  static constexpr int kGemvGroups = 1;  // groups per single-token tile
  static constexpr int kWideTokens = 0;  // tokens per one-group tile for batches (0: none)
  // The dots below multiply signed bytes by signed bytes, so Q8_0's weights need no offset.
  static constexpr bool kVnni = false;
  using I = int32x4_t;
  using F = float32x4_t;

  template <GgmlType kType>
  static constexpr int tile_groups() {
    return 1;
  }
  template <GgmlType kType>
  static constexpr int tile_tokens() {
    return 2;
  }

  static uint8x16_t u8(I v) { return vreinterpretq_u8_s32(v); }
  static int8x16_t s8(I v) { return vreinterpretq_s8_s32(v); }
  static I from_u8(uint8x16_t v) { return vreinterpretq_s32_u8(v); }

  static I zero() { return vdupq_n_s32(0); }
  static F fzero() { return vdupq_n_f32(0.0f); }
  static I set1(int32_t v) { return vdupq_n_s32(v); }
  static F fset1(float v) { return vdupq_n_f32(v); }
  // Quarter h of a 64-byte k-group vector: rows 4h .. 4h+3, 4 bytes each.
  // Bits 2c..2c+1 of each byte (Q2_K's quants).
  static I bits01(I h, int c) {
    const uint8x16_t v = u8(h);
    const uint8x16_t s = c == 0 ? v : c == 1 ? vshrq_n_u8(v, 2) : c == 2 ? vshrq_n_u8(v, 4) : vshrq_n_u8(v, 6);
    return from_u8(vandq_u8(s, vdupq_n_u8(3)));
  }
  static I load(const uint8_t* p, int h) { return from_u8(vld1q_u8(p + 16 * h)); }
  static I lo(I v) { return from_u8(vandq_u8(u8(v), vdupq_n_u8(0x0f))); }
  static I hi(I v) { return from_u8(vshrq_n_u8(u8(v), 4)); }
  static I or_(I a, I b) { return vorrq_s32(a, b); }
  // A 16-byte table, and the bytes of idx (each 0..15) looked up in it.
  static I table16(const int8_t* t) { return vreinterpretq_s32_s8(vld1q_s8(t)); }
  static I lut(I table, I idx) { return vreinterpretq_s32_s8(vqtbl1q_s8(s8(table), u8(idx))); }
  // Adds 16 to the bytes whose bit is set in the 16-bit word of quarter h at p (bit 4r+m of
  // the group's 64-bit word is row r, element m; this quarter holds rows 4h .. 4h+3).
  static I add_bit4(I w, const uint8_t* p, int h) {
    const uint8x16_t spread = vcombine_u8(vdup_n_u8(p[2 * h]), vdup_n_u8(p[2 * h + 1]));
    static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t set = vtstq_u8(spread, vld1q_u8(kBit));  // 0xff where the bit is set
    return from_u8(vaddq_u8(u8(w), vandq_u8(set, vdupq_n_u8(0x10))));
  }
  // Bits 2c..2c+1 of each byte moved to bits 4..5 (Q6_K's high bits).
  static I bits45(I h, int c) {
    const uint8x16_t v = u8(h);
    const uint8x16_t s = c == 0 ? vshlq_n_u8(v, 4) : c == 1 ? vshlq_n_u8(v, 2) : c == 2 ? v : vshrq_n_u8(v, 2);
    return from_u8(vandq_u8(s, vdupq_n_u8(0x30)));
  }
  static int8x16_t bcast4(const int8_t* a) {
    int32_t v;
    std::memcpy(&v, a, 4);
    return vreinterpretq_s8_s32(vdupq_n_s32(v));
  }
  // acc + per lane: the 4 weight bytes times the 4 activations at a. Weights are below 128
  // (Q8_0's are signed, |w| <= 128) and |a| <= 127, so a product fits 15 bits and the sum of
  // a pair 16 (2 * 128 * 127 < 2^15): smull gives the 16-bit products, addp the pair sums in
  // order, sadalp adds the two pairs of each lane into its 32-bit sum.
  static I dot(I acc, I w, const int8_t* a) {
    const int8x16_t av = bcast4(a);
    const int16x8_t p0 = vmull_s8(vget_low_s8(s8(w)), vget_low_s8(av));
    const int16x8_t p1 = vmull_high_s8(s8(w), av);
    return vpadalq_s16(acc, vpaddq_s16(p0, p1));
  }
  static constexpr bool kDot16 = false;  // the dot above widens to 32 bits as it goes
  static I dot16(I acc, I w, const int8_t* a) { return dot(acc, w, a); }
  static I widen16(I acc) { return acc; }
  static I q8_prepare(I w) { return w; }
  static I dot_q8(I acc, I w, I, const int8_t* a) { return dot(acc, w, a); }
  static F load_f16(const uint8_t* p, int h) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p) + 4 * h)));
  }
  static uint8x8_t load4_u8(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return vreinterpret_u8_u32(vdup_n_u32(v));
  }
  static I load_u8_i32(const uint8_t* p, int h) {
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(load4_u8(p + 4 * h)))));
  }
  // MXFP4's E8M0 exponents (bytes [row]) as e8m0_to_fp32_half (kernels/quant_blocks.h) gives
  // them: 2^(e - 128), built from the float's bits, subnormal below e = 2.
  static F load_e8m0_half(const uint8_t* p, int h) {
    const uint32x4_t e = vreinterpretq_u32_s32(load_u8_i32(p, h));
    const uint32x4_t normal = vshlq_n_u32(vsubq_u32(e, vdupq_n_u32(1)), 23);
    const uint32x4_t subnormal = vshlq_u32(vdupq_n_u32(0x00200000), vreinterpretq_s32_u32(e));
    return vreinterpretq_f32_u32(vbslq_u32(vcltq_u32(e, vdupq_n_u32(2)), subnormal, normal));
  }
  static I load_s8_i32(const uint8_t* p, int h) {
    return vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u8(load4_u8(p + 4 * h)))));
  }
  // 8 bytes (4 rows x 2) widened to 16 bits, for madd16.
  static I load_u8_i16(const uint8_t* p, int h) { return vreinterpretq_s32_u16(vmovl_u8(vld1_u8(p + 8 * h))); }
  // Per 32-bit lane: the sum of the products of its two 16-bit halves in a and b.
  static I madd16(I a, I b) {
    const int16x8_t x = vreinterpretq_s16_s32(a), y = vreinterpretq_s16_s32(b);
    return vpaddq_s32(vmull_s16(vget_low_s16(x), vget_low_s16(y)), vmull_high_s16(x, y));
  }
  static I add(I a, I b) { return vaddq_s32(a, b); }
  template <int kShift>
  static I neg_shl(I v) { return vnegq_s32(vshlq_n_s32(v, kShift)); }
  static I mullo(I a, I b) { return vmulq_s32(a, b); }
  static F cvt(I v) { return vcvtq_f32_s32(v); }
  static F fmul(F a, F b) { return vmulq_f32(a, b); }
  static F fadd(F a, F b) { return vaddq_f32(a, b); }
  static F fsub(F a, F b) { return vsubq_f32(a, b); }
  static void store(float* p, F v, int n) {
    if (n == kLanes) {
      vst1q_f32(p, v);
    } else {
      float l[kLanes];
      vst1q_f32(l, v);
      std::memcpy(p, l, sizeof(float) * size_t(n));
    }
  }
};

#include "kernels/gemm_tiles.h"

// The 8 lanes of a float dot (kernels/gemm_float.h) in two 4-lane vectors: 3 x 3 tiles keep
// 18 accumulators, the tokens' 6 vectors and one row's 2 in the 32 registers. vfmaq_f32 is the fused
// multiply-add the order asks for (-ffp-contract=off fuses nothing else).
struct FV {
  static constexpr int kLanes = 4, kVecs = 2;
  static constexpr int kRows = 3, kTokens = 3, kGemvRows = 4;
  using F = float32x4_t;
  static F zero() { return vdupq_n_f32(0.0f); }
  static F fma(F a, F b, F c) { return vfmaq_f32(c, a, b); }
  static F load_f32(const float* p) { return vld1q_f32(p); }
  static F load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static F load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  // Lanes 0-3 in acc[0], 4-7 in acc[1]; folded in halves.
  static float fold8(const F* acc) {
    const F s4 = vaddq_f32(acc[0], acc[1]);
    const float32x2_t s2 = vadd_f32(vget_low_f32(s4), vget_high_f32(s4));
    return vget_lane_f32(s2, 0) + vget_lane_f32(s2, 1);
  }
};

#include "kernels/gemm_float.h"

}  // namespace

void register_neon_gemm(KernelTable& k) {
  register_gemm(k);
  register_float_kernels(k);
}

}  // namespace nagare
#endif
