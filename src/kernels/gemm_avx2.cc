// AVX2 tile kernels over packed weights: 8 rows per vector (a 16-row group is two vectors),
// pmaddubsw + pmaddwd for the integer dots. Built with -mavx2 -mfma -mf16c (CMakeLists.txt).
#if defined(__x86_64__)
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
  static constexpr int kLanes = 8, kVecs = 2;
  static constexpr int kGemvGroups = 2;  // groups per single-token tile
  static constexpr int kWideTokens = 0;  // tokens per one-group tile for batches (0: none)
  static constexpr bool kVnni = false;
  using I = __m256i;
  using F = __m256;

  template <GgmlType kType>
  static constexpr int tile_groups() {
    return 1;
  }
  // Four tokens per tile: each decoded weight vector serves four dots. With the accumulators
  // kept in order (in_order below) the tile fits the 16 registers; every type ran 4-30% faster
  // than with two tokens on Zen 3.
  template <GgmlType kType>
  static constexpr int tile_tokens() {
    return 4;
  }

  static I zero() { return _mm256_setzero_si256(); }
  static F fzero() { return _mm256_setzero_ps(); }
  static I set1(int32_t v) { return _mm256_set1_epi32(v); }
  static F fset1(float v) { return _mm256_set1_ps(v); }
  // Half h of a 64-byte k-group vector: rows 8h .. 8h+7.
  // Bits 2c..2c+1 of each byte (Q2_K's quants).
  static I bits01(I h, int c) { return _mm256_and_si256(c == 0 ? h : _mm256_srli_epi16(h, 2 * c), _mm256_set1_epi8(3)); }
  static I load(const uint8_t* p, int h) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * h)); }
  static I lo(I v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0f)); }
  static I hi(I v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f)); }
  static I or_(I a, I b) { return _mm256_or_si256(a, b); }
  // A 16-byte table in both 128-bit lanes, and the bytes of idx (each 0..15) looked up in it.
  static I table16(const int8_t* t) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
  }
  static I lut(I table, I idx) { return _mm256_shuffle_epi8(table, idx); }
  // Adds 16 to the bytes whose bit is set in the 32-bit word of half h at p.
  static I add_bit4(I w, const uint8_t* p, int h) {
    uint32_t bits;
    std::memcpy(&bits, p + 4 * h, 4);
    const I spread = _mm256_shuffle_epi8(_mm256_set1_epi32(int32_t(bits)),
                                         _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const I bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
    const I set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_add_epi8(w, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
  }
  static I bits45(I h, int c) {
    I v = c == 0 ? _mm256_slli_epi16(h, 4) : c == 1 ? _mm256_slli_epi16(h, 2) : c == 2 ? h : _mm256_srli_epi16(h, 2);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x30));
  }
  // An accumulator's new value, kept as computed: GCC otherwise re-associates a tile's chains
  // of integer adds into trees of products computed first, which need more than AVX2's 16
  // registers, and spills them (the Q4_K tile ran 1.3x slower).
  static I in_order(I acc) {
    __asm__("" : "+x"(acc));
    return acc;
  }
  static I bcast4(const int8_t* a) {
    int32_t v;
    std::memcpy(&v, a, 4);
    return _mm256_set1_epi32(v);
  }
  // Weights are at most 63 and |a| <= 127, so the 16-bit pair sums cannot saturate.
  static I dot(I acc, I w, const int8_t* a) {
    return in_order(_mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, bcast4(a)), _mm256_set1_epi16(1))));
  }
  // 16-bit accumulation of pair sums (only where they provably fit), widened once.
  static constexpr bool kDot16 = true;
  static I dot16(I acc, I w, const int8_t* a) { return in_order(_mm256_add_epi16(acc, _mm256_maddubs_epi16(w, bcast4(a)))); }
  static I widen16(I acc) { return _mm256_madd_epi16(acc, _mm256_set1_epi16(1)); }
  // Q8_0's signed weights: |w| times a with w's sign (|w| <= 128, |a| <= 127: no saturation).
  static I q8_prepare(I w) { return _mm256_abs_epi8(w); }
  static I dot_q8(I acc, I w, I w_abs, const int8_t* a) {
    const I p = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(bcast4(a), w));
    return in_order(_mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1))));
  }
  static F load_f16(const uint8_t* p, int h) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * h)));
  }
  static I load_u8_i32(const uint8_t* p, int h) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * h)));
  }
  // MXFP4's E8M0 exponents (bytes [row]) as e8m0_to_fp32_half (kernels/quant_blocks.h) gives
  // them: 2^(e - 128), built from the float's bits, subnormal below e = 2.
  static F load_e8m0_half(const uint8_t* p, int h) {
    const I e = load_u8_i32(p, h);
    const I normal = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
    const I subnormal = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
    return _mm256_castsi256_ps(_mm256_blendv_epi8(normal, subnormal, _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e)));
  }
  static I load_s8_i32(const uint8_t* p, int h) {
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * h)));
  }
  // The int8 at p[8h + k] as an int16 pair (both halves) in lane k: a pmaddwd operand that
  // scales both 16-bit sums of a lane.
  static I load_s8_pair16(const uint8_t* p, int h) {
    uint64_t v;
    std::memcpy(&v, p + 8 * h, 8);
    // Byte k of lane k's pair into bytes 1 and 3 (the high bytes), then shifted down with its sign.
    const I spread = _mm256_shuffle_epi8(_mm256_set1_epi64x(int64_t(v)),
                                         _mm256_setr_epi8(-1, 0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3,
                                                          -1, 4, -1, 4, -1, 5, -1, 5, -1, 6, -1, 6, -1, 7, -1, 7));
    return _mm256_srai_epi16(spread, 8);
  }
  static I load_u8_i16(const uint8_t* p, int h) {
    return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * h)));
  }
  static I madd16(I a, I b) { return _mm256_madd_epi16(a, b); }
  static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  template <int kShift>
  static I neg_shl(I v) { return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(v, kShift)); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F fmul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fadd(F a, F b) { return _mm256_add_ps(a, b); }
  static F fsub(F a, F b) { return _mm256_sub_ps(a, b); }
  static void store(float* p, F v, int n) {
    if (n == kLanes) {
      _mm256_storeu_ps(p, v);
    } else {
      const I idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx), v);
    }
  }
};

#include "kernels/gemm_tiles.h"

#include "kernels/gemm_float_x86.h"

// Float dots (kernels/gemm_float.h): 4 rows x 3 tokens keep 12 accumulators, the tokens' 3 vectors
// and one row's in the 16 registers (as llama.cpp's tinyBLAS on AVX2; 1.1x the 3 x 3 tiles on Zen
// 3); decode takes 6 rows at a time (more measured the same: memory is the limit there).
using FV = FV256<4, 3, 6>;

#include "kernels/gemm_float.h"

}  // namespace

void register_avx2_gemm(KernelTable& k) {
  register_gemm(k);
  register_float_kernels(k);
}

}  // namespace nagare
#endif
