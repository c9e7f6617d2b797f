// Scale searches shared by the K-quant quantizers of quant_k.cc (Q4_K, Q5_K) and
// quant_k_low.cc (Q2_K): ggml's nearest_int and make_qkx2_quants, float step for float step,
// so the quantizers that use them write llama.cpp's bytes.
#pragma once

#include <cstdint>
#include <cstring>

namespace nagare::ref {

inline constexpr float kGroupMaxEps = 1e-15f;  // below this a group counts as all zero

// Round to nearest (ties to even) for |x| < 2^22, by the float-add trick ggml uses, so ties
// go the same way as in the reference.
inline int nearest_int(float x) {
  const float v = x + 12582912.0f;  // 1.5 * 2^23: the integer lands in the low mantissa bits
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// ggml's make_qkx2_quants: quants L in [0, nmax] and (scale, -min) for x ~ scale * L - min,
// searching nstep+1 candidate scales for the least weighted error: squared, or absolute where
// use_mad (Q2_K's choice). Laux is scratch of n bytes.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

}  // namespace nagare::ref
