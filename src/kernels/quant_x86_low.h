// x86 vec_dot of the low-bit formats Q2_K, Q3_K (activations Q8_K) and MXFP4 (Q8_0), compiled
// twice like quant_x86.h (whose helpers it uses, as those of quant_x86_iq.h): by quant_avx2.cc
// and quant_avx512.cc. Include only from those files, after quant_x86_iq.h, inside
// `namespace nagare { namespace {`.
//
// Integer sums are exact, so only the float steps decide the result; they are the scalar
// reference's (kernels/quant_k_low.cc, quant_mx.cc: ggml's generic kernels' for Q2_K and MXFP4,
// one step per super-block for Q3_K), so every tier gives the scalar bits.

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

// ---- Q3_K: one float step per super-block ----

float vec_dot_q3_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t sc[16];
    unpack_q3_k_scales(x[i].scales, sc);
    const __m256i hm = load32(x[i].hmask);
    __m256i isum = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {  // elements 32g .. 32g + 31: sub-blocks 2g, 2g + 1
      const __m256i low = _mm256_and_si256(_mm256_srl_epi16(load32(x[i].qs + 32 * (g / 4)), _mm_cvtsi32_si128(2 * (g % 4))), m3);
      const __m256i bit = _mm256_set1_epi8(char(1 << g));
      const __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), four);
      const __m256i code = _mm256_or_si256(low, high);  // q + 4 in [0, 7]
      const __m256i a8 = load32(y[i].qs + 32 * g);
      // Pair sums of (q + 4) a - 4 a = q a, exact in int16; madd weighs them with the scales.
      const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(code, a8), _mm256_maddubs_epi16(four, a8));
      const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(sc[2 * g + 1]), _mm_set1_epi16(sc[2 * g]));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scale));
    }
    const float d = h2f(x[i].d) * y[i].d;
    sumf += d * float(hsum_i32(isum));
  }
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
