// NEON vec_dot of the low-bit formats Q2_K, Q3_K (activations Q8_K) and MXFP4 (Q8_0). Include
// only from quant_neon.cc, after its IQ4 kernels (it uses dot_s8, iq4_dot32 and h2f), inside
// `namespace nagare { namespace {`.
//
// Integer sums are exact, so only the float steps decide the result; they are the scalar
// reference's (kernels/quant_k_low.cc, quant_mx.cc: ggml's generic kernels' for Q2_K and MXFP4,
// one step per super-block for Q3_K), so NEON gives the scalar bits.

// Bits 2s, 2s+1 of each of 16 bytes (s = 0..3): a Q2_K / Q3_K run's low two quant bits.
inline uint8x16_t bit_pair(const uint8_t* qs, int s) {
  return vandq_u8(vshlq_u8(vld1q_u8(qs), vdupq_n_s8(int8_t(-2 * s))), vdupq_n_u8(3));
}

// ---- Q2_K: one float step per super-block ----

float vec_dot_q2_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ2_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const uint8_t* sc = x[i].scales;
    int32x4_t isum = vdupq_n_s32(0);
    for (int j = 0; j < 16; ++j) {  // sub-block j: elements 16j + 0..15, bits 2s of qs[32k + 16h + l]
      const int k = j / 8, s = (j / 2) % 4, h = j % 2;
      const int8x16_t v = vreinterpretq_s8_u8(bit_pair(x[i].qs + 32 * k + 16 * h, s));
      isum = vmlaq_n_s32(isum, dot_s8(vdupq_n_s32(0), v, vld1q_s8(y[i].qs + 16 * j)), sc[j] & 0x0f);
    }
    int32_t summs = 0;
    for (int j = 0; j < 16; ++j) summs += int32_t(y[i].bsums[j]) * (sc[j] >> 4);
    const float dall = y[i].d * h2f(x[i].d);
    const float dmin = y[i].d * h2f(x[i].dmin);
    sumf += dall * float(vaddvq_s32(isum)) - dmin * float(summs);
  }
  return sumf;
}

// ---- Q3_K: one float step per super-block ----

float vec_dot_q3_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ3_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int8_t sc[16];
    unpack_q3_k_scales(x[i].scales, sc);
    int32x4_t isum = vdupq_n_s32(0);
    for (int j = 0; j < 16; ++j) {  // sub-block j: 32-element group g = j / 2, half h = j % 2
      const int g = j / 2, h = j % 2;
      const uint8x16_t low = bit_pair(x[i].qs + 32 * (g / 4) + 16 * h, g % 4);
      const uint8x16_t clear = vceqq_u8(vandq_u8(vld1q_u8(x[i].hmask + 16 * h), vdupq_n_u8(uint8_t(1 << g))), vdupq_n_u8(0));
      const int8x16_t v = vreinterpretq_s8_u8(vsubq_u8(low, vandq_u8(clear, vdupq_n_u8(4))));
      isum = vmlaq_n_s32(isum, dot_s8(vdupq_n_s32(0), v, vld1q_s8(y[i].qs + 16 * j)), sc[j]);
    }
    const float d = h2f(x[i].d) * y[i].d;
    sumf += d * float(vaddvq_s32(isum));
  }
  return sumf;
}

// ---- MXFP4: levels by table lookup of kMXFP4Values, then IQ4_NL's integer dot ----

float vec_dot_mxfp4(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockMXFP4*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int8x16_t table = vld1q_s8(kMXFP4Values);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i)
    sumf += (h2f(y[i].d) * e8m0_to_fp32_half(x[i].e)) * float(iq4_dot32(x[i].qs, y[i].qs, table));
  return sumf;
}
