// x86 vec_dot of the non-linear 4-bit formats IQ4_NL and IQ4_XS, compiled twice like
// quant_x86.h (whose helpers it uses): by quant_avx2.cc and quant_avx512.cc. Include only from
// those files, after quant_x86.h, inside `namespace nagare { namespace {`.
//
// The 4-bit indices become their signed levels with one pshufb of kIQ4Values, then the same
// exact integer dot as Q4_0; the float steps are the scalar reference's (kernels/quant_iq.cc),
// one per 32-element (sub-)block, so every tier gives its bits.

// kIQ4Values in both 128-bit lanes, for pshufb.
inline __m256i iq4_table() {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIQ4Values)));
}

// The 32 levels of one 32-element (sub-)block from its 16 bytes of nibbles, in element order.
inline __m256i iq4_levels(const uint8_t* qs, __m256i table) { return _mm256_shuffle_epi8(table, unpack_nibbles(qs)); }

float vec_dot_iq4_nl(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_NL*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const __m256i table = iq4_table();
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const int32_t sumi = hsum_i32(dot_s8s8(iq4_levels(x[i].qs, table), load32(y[i].qs)));
    sumf += (h2f(y[i].d) * h2f(x[i].d)) * float(sumi);
  }
  return sumf;
}

float vec_dot_iq4_xs(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockIQ4_XS*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m256i table = iq4_table();
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    __m256i p[8];
    for (int j = 0; j < 8; ++j) p[j] = dot_s8s8(iq4_levels(x[i].qs + 16 * j, table), load32(y[i].qs + 32 * j));
    alignas(32) int32_t sumi[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(sumi), hsum8_i32(p));
    const float d4d8 = h2f(x[i].d) * y[i].d;
    for (int j = 0; j < 8; ++j) sumf += (d4d8 * float(iq4_xs_scale(x[i], j))) * float(sumi[j]);
  }
  return sumf;
}

void register_quant_iq(KernelTable& k) {
  k.vec_dot[int(GgmlType::IQ4_NL)] = vec_dot_iq4_nl;
  k.vec_dot[int(GgmlType::IQ4_XS)] = vec_dot_iq4_xs;
}
