// The 8 lanes of a float dot (kernels/gemm_float.h) in one 256-bit vector, for gemm_avx2.cc and
// gemm_avx512.cc, which give their tile sizes: kR rows by kT tokens (kR * kT accumulators and both
// operands' kR + kT vectors must fit the ISA's registers) and kGemv rows for a single token.
// Include inside `namespace nagare { namespace {`.
template <int kR, int kT, int kGemv>
struct FV256 {
  static constexpr int kLanes = 8, kVecs = 1;
  static constexpr int kRows = kR, kTokens = kT, kGemvRows = kGemv;
  using F = __m256;
  static F zero() { return _mm256_setzero_ps(); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F load_f32(const float* p) { return _mm256_loadu_ps(p); }
  static F load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static F load_bf16(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float fold8(const F* acc) {
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(*acc), _mm256_extractf128_ps(*acc, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
  }
};
