// x86 vec_dot of the low-bit formats Q2_K, Q3_K (activations Q8_K) and MXFP4 (Q8_0), compiled
// twice like quant_x86.h (whose helpers it uses, as those of quant_x86_iq.h): by quant_avx2.cc
// and quant_avx512.cc. Include only from those files, after quant_x86_iq.h, inside
// `namespace nagare { namespace {`.
//
// Integer sums are exact, so only the float steps decide the result; they are the scalar
// reference's (kernels/quant_k_low.cc, quant_mx.cc), which are ggml's generic kernels', so every
// tier gives the scalar bits.

// ---- Q2_K: one float step per super-block ----

float vec_dot_q2_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m256i m3 = _mm256_set1_epi8(3);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* sc = x[i].scales;
    __m256i isum = _mm256_setzero_si256();
    for (int k = 0; k < 2; ++k) {
      const __m256i q = load32(x[i].qs + 32 * k);
      for (int s = 0; s < 4; ++s) {
        // Elements 128k + 32s + 0..31 (bits 2s, 2s+1): sub-blocks j (first 16) and j + 1.
        const int j = 8 * k + 2 * s;
        const __m256i v = _mm256_and_si256(_mm256_srl_epi16(q, _mm_cvtsi32_si128(2 * s)), m3);
        const __m256i p = _mm256_maddubs_epi16(v, load32(y[i].qs + 16 * j));
        const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[j + 1] & 0x0f), _mm_set1_epi16(sc[j] & 0x0f));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scale));
      }
    }
    int32_t summs = 0;
    for (int j = 0; j < 16; ++j) summs += int32_t(y[i].bsums[j]) * (sc[j] >> 4);
    const float dall = y[i].d * h2f(x[i].d);
    const float dmin = y[i].d * h2f(x[i].dmin);
    sumf += dall * float(hsum_i32(isum)) - dmin * float(summs);
  }
  return sumf;
}

// ---- Q3_K: eight float lanes, lane l summing the elements e with e % 8 == l ----

float vec_dot_q3_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4), zero = _mm256_setzero_si256();
  __m256 sums = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t sc[16];
    unpack_q3_k_scales(x[i].scales, sc);
    const __m256i hm = load32(x[i].hmask);
    // acc_lo's int32 lanes hold lanes l = 0-3 of the reference (twice: elements 8m + 0-3 in
    // each 128-bit half), acc_hi lanes l = 4-7.
    __m256i acc_lo = zero, acc_hi = zero;
    for (int g = 0; g < 8; ++g) {  // elements 32g .. 32g + 31: sub-blocks 2g, 2g + 1
      const __m256i low = _mm256_and_si256(_mm256_srl_epi16(load32(x[i].qs + 32 * (g / 4)), _mm_cvtsi32_si128(2 * (g % 4))), m3);
      const __m256i clear = _mm256_cmpeq_epi8(_mm256_and_si256(hm, _mm256_set1_epi8(char(1 << g))), zero);
      const __m256i v = _mm256_sub_epi8(low, _mm256_and_si256(clear, four));  // q - 4 where the high bit is clear
      const __m256i a8 = load32(y[i].qs + 32 * g);
      // int16 products in element order: p0 elements 0-15, p1 16-31 (|q a| <= 512).
      const __m256i p0 = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)),
                                            _mm256_cvtepi8_epi16(_mm256_castsi256_si128(a8)));
      const __m256i p1 = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1)),
                                            _mm256_cvtepi8_epi16(_mm256_extracti128_si256(a8, 1)));
      // Pairs (p0[m], p1[m]) share the lane m % 8; madd weighs them with their sub-blocks' scales.
      const __m256i scales = _mm256_set1_epi32(int32_t(uint32_t(uint16_t(sc[2 * g])) | uint32_t(uint16_t(sc[2 * g + 1])) << 16));
      acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(p0, p1), scales));
      acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(p0, p1), scales));
    }
    const __m128i lo = _mm_add_epi32(_mm256_castsi256_si128(acc_lo), _mm256_extracti128_si256(acc_lo, 1));
    const __m128i hi = _mm_add_epi32(_mm256_castsi256_si128(acc_hi), _mm256_extracti128_si256(acc_hi, 1));
    const float d = h2f(x[i].d) * y[i].d;
    sums = _mm256_add_ps(sums, _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_set_m128i(hi, lo))));
  }
  alignas(32) float l[8];
  _mm256_store_ps(l, sums);
  float sumf = 0.0f;
  for (float s : l) sumf += s;
  return sumf;
}

// ---- MXFP4: levels by pshufb of kMXFP4Values, then IQ4_NL's integer dot ----

float vec_dot_mxfp4(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockMXFP4*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kMXFP4Values)));
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int32_t sumi = hsum_i32(dot_s8s8(iq4_levels(x[i].qs, table), load32(y[i].qs)));
    sumf += (h2f(y[i].d) * e8m0_to_fp32_half(x[i].e)) * float(sumi);
  }
  return sumf;
}

void register_quant_low(KernelTable& k) {
  k.vec_dot[int(GgmlType::Q2_K)] = vec_dot_q2_k;
  k.vec_dot[int(GgmlType::Q3_K)] = vec_dot_q3_k;
  k.vec_dot[int(GgmlType::MXFP4)] = vec_dot_mxfp4;
}
