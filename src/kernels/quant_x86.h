// Raw-layout (GGUF block) kernels for x86 with 256-bit vectors, compiled twice: by
// quant_avx2.cc (pmaddubsw dots) and quant_avx512.cc (the same code with VNNI vpdpbusd and
// EVEX encodings). Include only from those files, inside `namespace nagare { namespace {`.
//
// Activation quantizers produce exactly the bytes of the scalar reference (same float
// operations; std::round's ties-away and the reference's first-maximum choice reproduced).
// vec_dot follows the canonical SIMD order of kernels/gemm_tiles.h for the quantized types, so it
// equals the packed GEMM bit for bit; for F32/F16/BF16 it sums float products in 32 double
// lanes (lane = i mod 32 in chunks of 8, zero-padded), then adds the lanes in a fixed tree.

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }
inline uint16_t f2h(float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Lane j: the sum of the 8 lanes of v[j] (integers, so the pairing order does not matter).
inline __m256i hsum8_i32(const __m256i v[8]) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
  // a, b: per 128-bit half, the half-sums of v[0..3] and v[4..7]; add the halves.
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

inline float hmax_f32(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline __m256 abs_ps(__m256 v) { return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }

// Per 32-bit lane: the sum of 4 products of unsigned bytes of w and signed bytes of a.
inline __m256i dot_u8s8(__m256i w, __m256i a) {
#if defined(__AVX512VNNI__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1));
#endif
}

// The same with signed w (|w| <= 128, |a| <= 127, as every activation quantizer makes them).
inline __m256i dot_s8s8(__m256i w, __m256i a) { return dot_u8s8(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w)); }

// Per 32-bit lane: `scale` times the sum of 4 products (scale < 2^15, w unsigned < 64).
inline __m256i dot_u8s8_scaled(__m256i w, __m256i a, int32_t scale) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(int16_t(scale)));
}

// 16 bytes of nibbles -> 32 bytes: the low nibbles, then the high ones.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0f));
}

// 0x10 in byte j where bit j of the 32 bits at p is set (the fifth bit of Q5 quants).
inline __m256i bit4_from_bits(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(int32_t(bits)),
                                             _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(int64_t(0x8040201008040201));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// ---- activation quantizers ----

// std::round (ties away from zero) of floats whose magnitude is below 2^23.
inline __m256 round_away(__m256 v) {
  const __m256 a = abs_ps(v);
  const __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 up = _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(a, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ), _mm256_set1_ps(1.0f));
  return _mm256_or_ps(_mm256_add_ps(t, up), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
}

// Four vectors of 8 int32 -> their 32 low bytes in order: the reference's int8_t(int)
// conversion, which also decides what the degenerate blocks (an infinite inverse scale from
// denormal inputs) store.
inline __m256i pack_low_bytes(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i m = _mm256_set1_epi32(0xff);
  const __m256i ab = _mm256_packus_epi32(_mm256_and_si256(a, m), _mm256_and_si256(b, m));
  const __m256i cd = _mm256_packus_epi32(_mm256_and_si256(c, m), _mm256_and_si256(d, m));
  return _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// int8_t(v) of each lane, widened back: what the reference sums after storing.
inline __m256i low_byte_signed(__m256i v) { return _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24); }

// The reference's nearest_int: round to nearest even by adding 1.5 * 2^23 (also for inf/NaN).
inline __m256i nearest_int(__m256 v) {
  const __m256i bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
  return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}

#if defined(__AVX512F__)
// Sixteen blocks at a time, their scalars side by side: lane b of a vector belongs to block b.
// The per-block horizontal steps (the largest magnitude, the quant sum) become one transposing
// reduction of 16 vectors, the scales one division each for all 16, and the tile kernels' side
// data (kernels/gemm.h) is written in the same pass instead of being recomputed from the row.

// Lane b of the result: op over the 16 lanes of v[b]. Each step halves the vectors, pairing
// lanes of two of them; the operands' order within a step does not matter for the maximum or
// for integer sums, the only ops used.
template <typename Op>
inline __m512 reduce16(const __m512* v, Op op) {
  __m512 t[8], u[4], w[2];
  for (int i = 0; i < 8; ++i)  // 128-bit chunks: [a.c0, a.c1, b.c0, b.c1] op [a.c2, a.c3, b.c2, b.c3]
    t[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xee));
  for (int i = 0; i < 4; ++i)  // chunk k: block 4i + k's four partials
    u[i] = op(_mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0x88), _mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0xdd));
  for (int i = 0; i < 2; ++i)  // chunk k: two partials of blocks 8i + k and 8i + 4 + k
    w[i] = op(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0x44), _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], 0xee));
  // Lane 4k + j now holds block 4j + k: transpose the 4 x 4 back.
  const __m512 r = op(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xdd));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), r);
}

// Up to 16 blocks: the reference's bytes (d = max |x| / 127, quants std::round(x / d) as
// int8_t, Q8_1's s = sum * d, both scalars in half precision) and, where extras is given, the
// tile kernels' {d, sum} (Q8_0) or {d, s} (Q8_1) per block.
template <bool kQ8_1, typename Block>
inline void quantize_q8_group(const float* x, Block* y, void* extras, int nb) {
  __m512 m[16];
  for (int b = 0; b < 16; ++b)
    m[b] = b < nb ? _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 32 * b)), _mm512_abs_ps(_mm512_loadu_ps(x + 32 * b + 16)))
                  : _mm512_setzero_ps();
  const __m512 d = _mm512_div_ps(reduce16(m, _mm512_max_ps), _mm512_set1_ps(127.0f));
  // 1 / d, and 0 where d is 0 (as the reference) or so small that 1 / d is infinite: the
  // reference's quants are then infinite or NaN, which its int8_t conversion stores as 0 on
  // x86 (cvttss2si gives 0x80000000), the same bytes and sum a zero scale gives. So every
  // quant here lies in [-127, 127].
  const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), d);
  alignas(64) float id[16];
  _mm512_store_ps(id, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(inv), _mm512_set1_ps(INFINITY), _CMP_LT_OQ), inv));
  // std::round (ties away from zero) as trunc(v + copysign(largest float below 0.5, v)): the
  // sum reaches the next integer exactly when v's fraction is at least one half.
  const __m512i below_half = _mm512_castps_si512(_mm512_set1_ps(0x1.fffffep-2f));
  const __m512i sign = _mm512_set1_epi32(int32_t(0x80000000u));
  auto quantize = [&](__m512 v) {
    const __m512i h = _mm512_ternarylogic_epi32(_mm512_castps_si512(v), sign, below_half, 0xea);  // (v & sign) | h
    return _mm512_cvttps_epi32(_mm512_add_ps(v, _mm512_castsi512_ps(h)));
  };
  // Two blocks at a time: their four vectors of quants narrow to bytes with two saturating
  // packs (exact: every quant is in [-127, 127]) and one dword permutation.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  __m512 sums[16];
  for (int b = 0; b < 16; b += 2) {
    if (b >= nb) {
      sums[b] = sums[b + 1] = _mm512_setzero_ps();
      continue;
    }
    const __m512 s0 = _mm512_set1_ps(id[b]), s1 = _mm512_set1_ps(id[b + 1]);
    const __m512i q0 = quantize(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b), s0));
    const __m512i q1 = quantize(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b + 16), s0));
    sums[b] = _mm512_castsi512_ps(_mm512_add_epi32(q0, q1));
    __m512i q2 = _mm512_setzero_si512(), q3 = _mm512_setzero_si512();
    if (b + 1 < nb) {
      q2 = quantize(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b + 32), s1));
      q3 = quantize(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * b + 48), s1));
    }
    sums[b + 1] = _mm512_castsi512_ps(_mm512_add_epi32(q2, q3));
    // Per 128-bit lane c: dwords q0[4c..], q1[4c..], q2[4c..], q3[4c..] as bytes.
    const __m512i bytes = _mm512_permutexvar_epi32(order, _mm512_packs_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), _mm512_castsi512_si256(bytes));
    if (b + 1 < nb) _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b + 1].qs), _mm512_extracti64x4_epi64(bytes, 1));
  }
  const __m512i sum = _mm512_castps_si512(reduce16(sums, [](__m512 a, __m512 b) {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
  }));
  const __m256i d_half = _mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  alignas(32) uint16_t halves[2][16];
  _mm256_store_si256(reinterpret_cast<__m256i*>(halves[0]), d_half);
  __m512 second;  // the extras' second member: Q8_1's s as stored, Q8_0's sum as int32 bits
  if constexpr (kQ8_1) {
    const __m256i s_half = _mm512_cvtps_ph(_mm512_mul_ps(_mm512_cvtepi32_ps(sum), d), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_store_si256(reinterpret_cast<__m256i*>(halves[1]), s_half);
    second = _mm512_cvtph_ps(s_half);
  } else {
    second = _mm512_castsi512_ps(sum);
  }
  for (int b = 0; b < nb; ++b) {
    y[b].d = halves[0][b];
    if constexpr (kQ8_1) y[b].s = halves[1][b];
  }
  if (extras == nullptr) return;
  // {d, second} pairs, block by block.
  const __m512 first = _mm512_cvtph_ps(d_half);
  const __m512 lo = _mm512_permutex2var_ps(first, _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), second);
  const __m512 hi = _mm512_permutex2var_ps(first, _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), second);
  float* e = static_cast<float*>(extras);
  const uint32_t floats = 2u * uint32_t(nb);
  _mm512_mask_storeu_ps(e, __mmask16(floats >= 16 ? 0xffffu : (1u << floats) - 1), lo);
  if (floats > 16) _mm512_mask_storeu_ps(e + 16, __mmask16((1u << (floats - 16)) - 1), hi);
}

template <bool kQ8_1, typename Block>
inline void quantize_q8_blocks(const float* x, Block* y, void* extras, int64_t nb) {
  static_assert(sizeof(ActExtrasQ8_0) == 2 * sizeof(float) && sizeof(ActExtrasQ8_1) == 2 * sizeof(float));
  for (int64_t i = 0; i < nb; i += 16)
    quantize_q8_group<kQ8_1>(x + i * kQK, y + i, extras ? static_cast<float*>(extras) + 2 * i : nullptr,
                             int(nb - i < 16 ? nb - i : 16));
}
template <bool kQ8_1, typename Block>
inline void quantize_q8_blocks(const float* x, Block* y, int64_t nb) {
  quantize_q8_blocks<kQ8_1>(x, y, nullptr, nb);
}

void quantize_act_q8_0(const float* x, void* row, void* extras, int64_t n) {
  quantize_q8_blocks<false>(x, static_cast<BlockQ8_0*>(row), extras, n / kQK);
}
void quantize_act_q8_1(const float* x, void* row, void* extras, int64_t n) {
  quantize_q8_blocks<true>(x, static_cast<BlockQ8_1*>(row), extras, n / kQK);
}
#else
template <bool kSum>
inline void quantize_q8_block(const float* x, int8_t* qs, uint16_t* d_out, uint16_t* s_out) {
  __m256 v[4];
  for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 8 * k);
  const __m256 m = _mm256_max_ps(_mm256_max_ps(abs_ps(v[0]), abs_ps(v[1])), _mm256_max_ps(abs_ps(v[2]), abs_ps(v[3])));
  const float d = hmax_f32(m) / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = f2h(d);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) q[k] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[k], _mm256_set1_ps(id))));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack_low_bytes(q[0], q[1], q[2], q[3]));
  if constexpr (kSum) {
    for (auto& v : q) v = low_byte_signed(v);
    const int32_t sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    *s_out = f2h(float(sum) * d);
  }
}

template <bool kSum, typename Block>
inline void quantize_q8_blocks(const float* x, Block* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    if constexpr (kSum) quantize_q8_block<true>(x + i * kQK, y[i].qs, &y[i].d, &y[i].s);
    else quantize_q8_block<false>(x + i * kQK, y[i].qs, &y[i].d, nullptr);
  }
}
#endif

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  quantize_q8_blocks<false>(x, static_cast<BlockQ8_0*>(dst), n / kQK);
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
  quantize_q8_blocks<true>(x, static_cast<BlockQ8_1*>(dst), n / kQK);
}

void quantize_row_q8_k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < kQK_K; k += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + k)));
    const float amax = hmax_f32(m);
    if (amax == 0.0f) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The reference keeps the first element of largest magnitude (its sign picks the scale's).
    float max = 0;
    for (int k = 0; k < kQK_K; k += 8) {
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + k)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
      if (hit) {
        max = x[k + __builtin_ctz(unsigned(hit))];
        break;
      }
    }
    const float iscale = -127.f / max;
    for (int k = 0; k < kQK_K; k += 32) {
      __m256i q[4];
      for (int c = 0; c < 4; ++c) {
        const __m256i r = nearest_int(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8 * c), _mm256_set1_ps(iscale)));
        q[c] = _mm256_min_epi32(r, _mm256_set1_epi32(127));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + k), pack_low_bytes(q[0], q[1], q[2], q[3]));
      for (auto& v : q) v = low_byte_signed(v);
      y[i].bsums[k / 16] = int16_t(hsum_i32(_mm256_add_epi32(q[0], q[1])));
      y[i].bsums[k / 16 + 1] = int16_t(hsum_i32(_mm256_add_epi32(q[2], q[3])));
    }
    y[i].d = 1 / iscale;
  }
}

void quantize_row_f16(const float* x, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) h[i] = f2h(x[i]);
}

inline uint16_t f2bf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return uint16_t((u >> 16) | 64);  // quiet NaN
  return uint16_t((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

void quantize_row_bf16(const float* x, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i r[2];
    for (int c = 0; c < 2; ++c) {
      const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i + 8 * c));
      const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
      const __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1)));
      const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
      const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
      r[c] = _mm256_blendv_epi8(rounded, quiet, nan);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(h + i), _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8));
  }
  for (; i < n; ++i) h[i] = f2bf(x[i]);
}

void quantize_row_f32(const float* x, void* dst, int64_t n) { std::memcpy(dst, x, size_t(n) * 4); }

// ---- dot products of the legacy formats: the reference's float order exactly ----

float vec_dot_q4_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const __m256i q = _mm256_sub_epi8(unpack_nibbles(x[i].qs), _mm256_set1_epi8(8));
    const int32_t sumi = hsum_i32(dot_s8s8(q, load32(y[i].qs)));
    sumf += float(sumi) * h2f(x[i].d) * h2f(y[i].d);
  }
  return sumf;
}

float vec_dot_q4_1(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int32_t sumi = hsum_i32(dot_u8s8(unpack_nibbles(x[i].qs), load32(y[i].qs)));
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * float(sumi) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sumf;
}

float vec_dot_q5_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const __m256i q = _mm256_or_si256(unpack_nibbles(x[i].qs), bit4_from_bits(x[i].qh));
    const int32_t sumi = hsum_i32(dot_s8s8(_mm256_sub_epi8(q, _mm256_set1_epi8(16)), load32(y[i].qs)));
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * float(sumi);
  }
  return sumf;
}

float vec_dot_q5_1(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const __m256i q = _mm256_or_si256(unpack_nibbles(x[i].qs), bit4_from_bits(x[i].qh));
    const int32_t sumi = hsum_i32(dot_u8s8(q, load32(y[i].qs)));
    sumf += (h2f(x[i].d) * h2f(y[i].d)) * float(sumi) + h2f(x[i].m) * h2f(y[i].s);
  }
  return sumf;
}

float vec_dot_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int32_t sumi = hsum_i32(dot_s8s8(load32(x[i].qs), load32(y[i].qs)));
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
    __m256i isum = _mm256_setzero_si256();
    __m256i qh = _mm256_setzero_si256();
    if constexpr (kQ5) qh = load32(x[i].qh);
    for (int j = 0; j < 4; ++j) {
      const __m256i q = load32(x[i].qs + 32 * j);
      __m256i lo = _mm256_and_si256(q, _mm256_set1_epi8(0x0f));
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(0x0f));
      if constexpr (kQ5) {
        // Bit 2j (2j+1) of qh[l] is bit 4 of element l of sub-block 2j (2j+1).
        const __m128i s0 = _mm_cvtsi32_si128(2 * j), s1 = _mm_cvtsi32_si128(2 * j + 1);
        const __m256i b4 = _mm256_set1_epi8(0x10);
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srl_epi16(qh, s0), 4), b4));
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srl_epi16(qh, s1), 4), b4));
      }
      isum = _mm256_add_epi32(isum, dot_u8s8_scaled(lo, load32(y[i].qs + 64 * j), sc[2 * j]));
      isum = _mm256_add_epi32(isum, dot_u8s8_scaled(hi, load32(y[i].qs + 64 * j + 32), sc[2 * j + 1]));
    }
    int32_t imin = 0;
    for (int j = 0; j < 8; ++j) imin += int32_t(mn[j]) * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    const float plus = (h2f(x[i].d) * y[i].d) * float(hsum_i32(isum));
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
  const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = load32(x[i].ql + 64 * h), ql1 = load32(x[i].ql + 64 * h + 32);
      const __m256i qh = load32(x[i].qh + 32 * h);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4)),
      };
      for (int c = 0; c < 4; ++c) {
        const int e0 = 128 * h + 32 * c;  // first element; sub-blocks e0/16 and e0/16 + 1
        const __m256i qs = _mm256_sub_epi8(q[c], _mm256_set1_epi8(32));
        const __m256i a8 = load32(y[i].qs + e0);
        const __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(qs), _mm256_sign_epi8(a8, qs));
        const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(x[i].scales[e0 / 16 + 1]), _mm_set1_epi16(x[i].scales[e0 / 16]));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scales));
      }
    }
    acc = acc + (h2f(x[i].d) * y[i].d) * float(hsum_i32(isum));
  }
  return acc;
}

// ---- Attention over a Q8_0 KV cache (kernels/quant.h) ----

// The KV cache's quantized formats as the attention kernels below read a block: its 32 levels as
// signed bytes in element order, its scale, and the float step by which vec_dot adds the block's
// exact integer sum s (with the query block's scale dq) to its running sum.
struct KvQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kUnpacked = false;  // levels() is a load of qs: nothing to keep
  static __m256i levels(const Block& x) { return load32(x.qs); }
  static __m256 step(__m256 acc, __m256 s, __m256 dk, __m256 dq) { return _mm256_add_ps(acc, _mm256_mul_ps(s, _mm256_mul_ps(dk, dq))); }
};
struct KvQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kUnpacked = true;  // levels() unpacks nibbles: done once for all queries
  static __m256i levels(const Block& x) { return _mm256_sub_epi8(unpack_nibbles(x.qs), _mm256_set1_epi8(8)); }
  static __m256 step(__m256 acc, __m256 s, __m256 dk, __m256 dq) { return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(s, dk), dq)); }
};

// Attention's scores against quantized keys (kernels/quant.h attention_scores_quantized): eight
// keys at a time, a lane per key; each block's (key, query) sums exact in integers, gathered into
// one vector by a tree of horizontal adds, then the format's vec_dot float steps, block after block.
template <typename Kv>
void attention_scores_kv(const void* keys, int64_t key_stride, int64_t n_keys, const void* q, int64_t q_stride, int64_t n_q,
                         int64_t n, float scale, float* out, int64_t out_stride, VecDotFn vec_dot_one) {
  using Block = typename Kv::Block;
  const auto* kb = static_cast<const uint8_t*>(keys);
  const auto* qb = static_cast<const uint8_t*>(q);
  const int64_t nb = n / kQK;
  constexpr int64_t kMaxBlocks = 16;  // the keys' scales kept for head sizes up to 512
  int64_t i = 0;
  if (nb <= kMaxBlocks)
    for (; i + 8 <= n_keys; i += 8) {
      const Block* key[8];
      for (int l = 0; l < 8; ++l) key[l] = reinterpret_cast<const Block*>(kb + (i + l) * key_stride);
      __m256 dk[kMaxBlocks];
      for (int64_t b = 0; b < nb; ++b) {
        alignas(32) float d[8];
        for (int l = 0; l < 8; ++l) d[l] = h2f(key[l][b].d);
        dk[b] = _mm256_load_ps(d);
      }
      __m256i unpacked[Kv::kUnpacked ? kMaxBlocks : 1][8];
      if constexpr (Kv::kUnpacked)
        for (int64_t b = 0; b < nb; ++b)
          for (int l = 0; l < 8; ++l) unpacked[b][l] = Kv::levels(key[l][b]);
      for (int64_t j = 0; j < n_q; ++j) {
        const auto* y = reinterpret_cast<const BlockQ8_0*>(qb + j * q_stride);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; ++b) {
          const __m256i a = load32(y[b].qs);
          __m256i s[8];
          for (int l = 0; l < 8; ++l) s[l] = dot_s8s8(Kv::kUnpacked ? unpacked[b][l] : Kv::levels(key[l][b]), a);
          acc = Kv::step(acc, _mm256_cvtepi32_ps(hsum8_i32(s)), dk[b], _mm256_set1_ps(h2f(y[b].d)));
        }
        _mm256_storeu_ps(out + j * out_stride + i, _mm256_mul_ps(acc, _mm256_set1_ps(scale)));
      }
    }
  for (; i < n_keys; ++i)
    for (int64_t j = 0; j < n_q; ++j) out[j * out_stride + i] = vec_dot_one(kb + i * key_stride, qb + j * q_stride, n) * scale;
}

// H heads' weights over the same quantized value rows: each block of a row converted to floats
// once (level * d, exact, as dequantize_row gives them) for all H heads, then axpy_f32's fused
// multiply-adds, rows in order.
template <typename Kv, int H>
void attention_values_heads(float* out, int64_t out_stride, const float* w, int64_t w_stride, const uint8_t* v,
                            int64_t v_stride, int64_t n_rows, int64_t n) {
  using Block = typename Kv::Block;
  for (int64_t b = 0; b < n / kQK; ++b) {
    __m256 acc[H][4];
    for (int h = 0; h < H; ++h)
      for (int c = 0; c < 4; ++c) acc[h][c] = _mm256_loadu_ps(out + h * out_stride + b * kQK + 8 * c);
    const uint8_t* row = v + b * sizeof(Block);
    for (int64_t r = 0; r < n_rows; ++r, row += v_stride) {
      const auto& x = *reinterpret_cast<const Block*>(row);
      const __m256 d = _mm256_set1_ps(h2f(x.d));
      alignas(32) int8_t unpacked[Kv::kUnpacked ? 32 : 1];
      const int8_t* levels = reinterpret_cast<const int8_t*>(x.qs);  // Q8_0's levels as stored
      if constexpr (Kv::kUnpacked) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(unpacked), Kv::levels(x));
        levels = unpacked;
      }
      __m256 wv[H];
      for (int h = 0; h < H; ++h) wv[h] = _mm256_broadcast_ss(w + h * w_stride + r);
      for (int c = 0; c < 4; ++c) {
        const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(levels + 8 * c));
        const __m256 xv = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), d);
        for (int h = 0; h < H; ++h) acc[h][c] = _mm256_fmadd_ps(wv[h], xv, acc[h][c]);
      }
    }
    for (int h = 0; h < H; ++h)
      for (int c = 0; c < 4; ++c) _mm256_storeu_ps(out + h * out_stride + b * kQK + 8 * c, acc[h][c]);
  }
}

template <typename Kv>
void attention_values_kv(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads, const void* v,
                         int64_t v_stride, int64_t n_rows, int64_t n) {
  const auto* vb = static_cast<const uint8_t*>(v);
  int64_t h = 0;
  for (; h + 3 <= n_heads; h += 3)
    attention_values_heads<Kv, 3>(out + h * out_stride, out_stride, w + h * w_stride, w_stride, vb, v_stride, n_rows, n);
  if (n_heads - h == 2)
    attention_values_heads<Kv, 2>(out + h * out_stride, out_stride, w + h * w_stride, w_stride, vb, v_stride, n_rows, n);
  if (n_heads - h == 1)
    attention_values_heads<Kv, 1>(out + h * out_stride, out_stride, w + h * w_stride, w_stride, vb, v_stride, n_rows, n);
}

void attention_scores_q8_0(const void* keys, int64_t key_stride, int64_t n_keys, const void* q, int64_t q_stride, int64_t n_q,
                           int64_t n, float scale, float* out, int64_t out_stride) {
  attention_scores_kv<KvQ8_0>(keys, key_stride, n_keys, q, q_stride, n_q, n, scale, out, out_stride, vec_dot_q8_0);
}
void attention_scores_q4_0(const void* keys, int64_t key_stride, int64_t n_keys, const void* q, int64_t q_stride, int64_t n_q,
                           int64_t n, float scale, float* out, int64_t out_stride) {
  attention_scores_kv<KvQ4_0>(keys, key_stride, n_keys, q, q_stride, n_q, n, scale, out, out_stride, vec_dot_q4_0);
}

void register_quant(KernelTable& k) {
  k.attention_scores[int(GgmlType::Q8_0)] = attention_scores_q8_0;
  k.attention_scores[int(GgmlType::Q4_0)] = attention_scores_q4_0;
  k.attention_values[int(GgmlType::Q8_0)] = attention_values_kv<KvQ8_0>;
  k.attention_values[int(GgmlType::Q4_0)] = attention_values_kv<KvQ4_0>;
  k.quantize[int(GgmlType::F32)] = quantize_row_f32;
  k.quantize[int(GgmlType::F16)] = quantize_row_f16;
  k.quantize[int(GgmlType::BF16)] = quantize_row_bf16;
  k.quantize[int(GgmlType::Q8_0)] = quantize_row_q8_0;
  k.quantize[int(GgmlType::Q8_1)] = quantize_row_q8_1;
  k.quantize[int(GgmlType::Q8_K)] = quantize_row_q8_k;
#if defined(__AVX512F__)
  k.quantize_act[int(GgmlType::Q8_0)] = quantize_act_q8_0;
  k.quantize_act[int(GgmlType::Q8_1)] = quantize_act_q8_1;
#endif
  k.vec_dot[int(GgmlType::Q4_0)] = vec_dot_q4_0;
  k.vec_dot[int(GgmlType::Q4_1)] = vec_dot_q4_1;
  k.vec_dot[int(GgmlType::Q5_0)] = vec_dot_q5_0;
  k.vec_dot[int(GgmlType::Q5_1)] = vec_dot_q5_1;
  k.vec_dot[int(GgmlType::Q8_0)] = vec_dot_q8_0;
  k.vec_dot[int(GgmlType::Q4_K)] = vec_dot_q4_k;
  k.vec_dot[int(GgmlType::Q5_K)] = vec_dot_q5_k;
  k.vec_dot[int(GgmlType::Q6_K)] = vec_dot_q6_k;
}
