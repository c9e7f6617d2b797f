// Reference kernels for the legacy 32-element formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1:
// the arithmetic of ggml's quantize_row_*_ref, dequantize_row_* and the generic vec_dot_*,
// operation for operation, so results match llama.cpp bit for bit.

// Keep a * b + c two roundings (as the reference) even where the target has FMA.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_ref.h"

namespace nagare::ref {
namespace {

// Bit 4 of element j (0..31) of a Q5 block.
inline uint32_t q5_high_bits(const uint8_t qh[4]) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  return bits;
}

// kHighBit[b] spreads the 8 bits of b over 8 bytes: byte k (in memory order) is bit k of b,
// moved to bit 4. It turns a Q5 block's 32 packed high bits into 32 bytes without per-element
// variable shifts, so the unpacking below vectorizes.
constexpr auto kHighBit = [] {
  std::array<uint64_t, 256> t{};
  for (int b = 0; b < 256; ++b)
    for (int k = 0; k < 8; ++k) t[size_t(b)] |= uint64_t((b >> k) & 1) << (8 * k + 4);
  return t;
}();
static_assert(std::endian::native == std::endian::little, "kHighBit assumes little-endian byte order");

// The 32 five-bit quants of a Q5 block, in [0, 31].
inline void unpack_q5(const uint8_t qs[16], const uint8_t qh[4], int8_t q[32]) {
  uint8_t hi[kQK];
  for (int k = 0; k < 4; ++k) std::memcpy(hi + 8 * k, &kHighBit[qh[k]], 8);
  for (int j = 0; j < kQK / 2; ++j) {
    q[j] = int8_t((qs[j] & 0x0f) | hi[j]);
    q[j + kQK / 2] = int8_t((qs[j] >> 4) | hi[j + kQK / 2]);
  }
}

inline float signed_absmax(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

inline void min_max(const float* x, float* min_out, float* max_out) {
  float min = 3.402823466e+38f, max = -3.402823466e+38f;
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  *min_out = min;
  *max_out = max;
}

inline float absmax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

}  // namespace

// ---- dequantization ----

void dequantize_row_q4_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = float((x[i].qs[j] & 0x0f) - 8) * d;
      y[j + kQK / 2] = float((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = float(x[i].qs[j] & 0x0f) * d + m;
      y[j + kQK / 2] = float(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_row_q5_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const uint32_t qh = q5_high_bits(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int hi0 = ((qh >> j) << 4) & 0x10;
      const int hi1 = (qh >> (j + 12)) & 0x10;
      y[j] = float(((x[i].qs[j] & 0x0f) | hi0) - 16) * d;
      y[j + kQK / 2] = float(((x[i].qs[j] >> 4) | hi1) - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    const float m = fp16_to_fp32(x[i].m);
    const uint32_t qh = q5_high_bits(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int hi0 = ((qh >> j) << 4) & 0x10;
      const int hi1 = (qh >> (j + 12)) & 0x10;
      y[j] = float((x[i].qs[j] & 0x0f) | hi0) * d + m;
      y[j + kQK / 2] = float((x[i].qs[j] >> 4) | hi1) * d + m;
    }
  }
}

void dequantize_row_q8_0(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = float(x[i].qs[j]) * d;
  }
}

void dequantize_row_q8_1(const void* src, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, y += kQK) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = float(x[i].qs[j]) * d;
  }
}

// ---- quantization (ggml's *_ref: deterministic, what model files are made with) ----

void quantize_row_q4_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      // Truncation after +8.5 rounds half up; the extreme lands on 16, clamped to 15.
      const int q0 = std::min(15, int(int8_t(x[j] * id + 8.5f)));
      const int q1 = std::min(15, int(int8_t(x[j + kQK / 2] * id + 8.5f)));
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

void quantize_row_q4_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(15, int(int8_t((x[j] - min) * id + 0.5f)));
      const int q1 = std::min(15, int(int8_t((x[j + kQK / 2] - min) * id + 0.5f)));
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

void quantize_row_q5_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ5_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(31, int(int8_t(x[j] * id + 16.5f)));
      const int q1 = std::min(31, int(int8_t(x[j + kQK / 2] * id + 16.5f)));
      y[i].qs[j] = uint8_t((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= uint32_t((q0 & 0x10) >> 4) << j;
      qh |= uint32_t((q1 & 0x10) >> 4) << (j + kQK / 2);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void quantize_row_q5_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ5_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float min, max;
    min_max(x, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    y[i].m = fp32_to_fp16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = uint8_t((x[j] - min) * id + 0.5f);
      const int q1 = uint8_t((x[j + kQK / 2] - min) * id + 0.5f);
      y[i].qs[j] = uint8_t((q0 & 0x0f) | ((q1 & 0x0f) << 4));
      qh |= uint32_t((q0 & 0x10) >> 4) << j;
      qh |= uint32_t((q1 & 0x10) >> 4) << (j + kQK / 2);
    }
    std::memcpy(y[i].qh, &qh, 4);
  }
}

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = absmax(x) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = int8_t(std::round(x[j] * id));
  }
}

void quantize_row_q8_1(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = absmax(x) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      y[i].qs[j] = int8_t(std::round(x[j] * id));
      sum += y[i].qs[j];
    }
    // d (unrounded float) times the sum, as the reference; the weight's min times s then stands
    // for min * sum(activations) in the dot product.
    y[i].s = fp32_to_fp16(float(sum) * d);
  }
}

// ---- dot products: an exact integer sum per block, then one float scale per block ----

float vec_dot_q4_0_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += ((x[i].qs[j] & 0x0f) - 8) * y[i].qs[j];
      sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + kQK / 2];
    }
    sumf += float(sumi) * fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d);
  }
  return sumf;
}

float vec_dot_q4_1_q8_1(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += (x[i].qs[j] & 0x0f) * y[i].qs[j];
      sumi += (x[i].qs[j] >> 4) * y[i].qs[j + kQK / 2];
    }
    sumf += (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d)) * float(sumi) +
            fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
  }
  return sumf;
}

float vec_dot_q5_0_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int8_t q[kQK];
    unpack_q5(x[i].qs, x[i].qh, q);
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += (q[j] - 16) * y[i].qs[j];
    sumf += (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d)) * float(sumi);
  }
  return sumf;
}

float vec_dot_q5_1_q8_1(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int8_t q[kQK];
    unpack_q5(x[i].qs, x[i].qh, q);
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += q[j] * y[i].qs[j];
    sumf += (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d)) * float(sumi) +
            fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
  }
  return sumf;
}

float vec_dot_q8_0_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sumf += float(sumi) * (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d));
  }
  return sumf;
}

}  // namespace nagare::ref
