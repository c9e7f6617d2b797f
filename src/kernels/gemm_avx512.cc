// AVX-512 (F, BW, VL, VNNI) tile kernels over packed weights: 16 rows per vector, vpdpbusd for
// the integer dots. Built with -mavx512* (CMakeLists.txt); only called where the CPU has them.
#if defined(__x86_64__)
// GCC 12 warns about the deliberately undefined source of AVX-512 intrinsics such as
// _mm512_cvtph_ps once inlined (GCC bug 105593); the values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/dispatch.h"
#include "kernels/quant_blocks.h"

namespace nagare {
namespace {

struct V {
  static constexpr int kLanes = 16, kVecs = 1;
  static constexpr int kGemvGroups = 4;  // groups per single-token tile
  static constexpr int kWideTokens = 8;  // tokens per one-group tile for batches (0: none)
  static constexpr bool kVnni = true;
  using I = __m512i;
  using F = __m512;

  template <GgmlType kType>
  static constexpr int tile_groups() {
    return 2;
  }
  template <GgmlType kType>
  static constexpr int tile_tokens() {
    return 4;
  }

  static I zero() { return _mm512_setzero_si512(); }
  static F fzero() { return _mm512_setzero_ps(); }
  static I set1(int32_t v) { return _mm512_set1_epi32(v); }
  static F fset1(float v) { return _mm512_set1_ps(v); }
  // Bits 2c..2c+1 of each byte (Q2_K's quants).
  static I bits01(I h, int c) { return _mm512_and_si512(c == 0 ? h : _mm512_srli_epi16(h, 2 * c), _mm512_set1_epi8(3)); }
  static I load(const uint8_t* p, int) { return _mm512_loadu_si512(p); }
  static I lo(I v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0f)); }
  static I hi(I v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0f)); }
  static I or_(I a, I b) { return _mm512_or_si512(a, b); }
  // A 16-byte table in every 128-bit lane, and the bytes of idx (each 0..15) looked up in it.
  static I table16(const int8_t* t) {
    int8_t lanes[64];  // (_mm512_broadcast_i32x4 trips GCC 12's -Wuninitialized, see above)
    for (int l = 0; l < 4; ++l) std::memcpy(lanes + 16 * l, t, 16);
    return _mm512_loadu_si512(lanes);
  }
  static I lut(I table, I idx) { return _mm512_shuffle_epi8(table, idx); }
  // Adds 16 to the bytes whose bit is set in the 64-bit word at p.
  static I add_bit4(I w, const uint8_t* p, int) {
    uint64_t bits;
    std::memcpy(&bits, p, 8);
    return _mm512_mask_add_epi8(w, _cvtu64_mask64(bits), w, _mm512_set1_epi8(0x10));
  }
  // Bits 2c..2c+1 of each byte moved to bits 4..5 (Q6_K's high bits).
  static I bits45(I h, int c) {
    I v = c == 0 ? _mm512_slli_epi16(h, 4) : c == 1 ? _mm512_slli_epi16(h, 2) : c == 2 ? h : _mm512_srli_epi16(h, 2);
    return _mm512_and_si512(v, _mm512_set1_epi8(0x30));
  }
  static I bcast4(const int8_t* a) {
    int32_t v;
    std::memcpy(&v, a, 4);
    return _mm512_set1_epi32(v);
  }
  // acc + per lane: 4 unsigned weight bytes times the 4 signed activations at a.
  // The activation word is broadcast by the instruction itself ({1to16}): a separate broadcast
  // per dot would cost as much issue bandwidth as the dot. GCC does not fold it on its own.
  static I dot(I acc, I w, const int8_t* a) {
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*reinterpret_cast<const int32_t*>(a)));
    return acc;
  }
  static constexpr bool kDot16 = false;  // vpdpbusd accumulates in 32 bits directly
  static I dot16(I acc, I w, const int8_t* a) { return dot(acc, w, a); }
  static I widen16(I acc) { return acc; }
  // Q8_0's signed weights, offset by 128 to unsigned (the kernel subtracts 128 * sum(a)).
  static I q8_prepare(I w) { return _mm512_xor_si512(w, _mm512_set1_epi8(char(0x80))); }
  static I dot_q8(I acc, I, I w_offset, const int8_t* a) { return dot(acc, w_offset, a); }
  static F load_f16(const uint8_t* p, int) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static I load_u8_i32(const uint8_t* p, int) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // MXFP4's E8M0 exponents (bytes [row]) as e8m0_to_fp32_half (kernels/quant_blocks.h) gives
  // them: 2^(e - 128), built from the float's bits, subnormal below e = 2.
  static F load_e8m0_half(const uint8_t* p, int h) {
    const I e = load_u8_i32(p, h);
    const I normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
    const I subnormal = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
    return _mm512_castsi512_ps(_mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(e, _mm512_set1_epi32(2)), normal, subnormal));
  }
  static I load_s8_i32(const uint8_t* p, int) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static I load_u8_i16(const uint8_t* p, int) {
    return _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static I madd16(I a, I b) { return _mm512_madd_epi16(a, b); }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  template <int kShift>
  static I neg_shl(I v) { return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(v, kShift)); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static F cvt(I v) { return _mm512_cvtepi32_ps(v); }
  static F fmul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fadd(F a, F b) { return _mm512_add_ps(a, b); }
  static F fsub(F a, F b) { return _mm512_sub_ps(a, b); }
  static void store(float* p, F v, int n) {
    if (n == kLanes) _mm512_storeu_ps(p, v);
    else _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), v);
  }
};

#include "kernels/gemm_tiles.h"

#include "kernels/gemm_float_x86.h"

// Float dots (kernels/gemm_float.h) in 256-bit vectors, as on AVX2, with AVX-512VL's 32
// registers: 4 x 4 tiles keep 16 accumulators and both operands' 8 vectors.
using FV = FV256<4, 4, 8>;

#include "kernels/gemm_float.h"

}  // namespace

void register_avx512_gemm(KernelTable& k) {
  register_gemm(k);
  register_float_kernels(k);
}

}  // namespace nagare
#endif
