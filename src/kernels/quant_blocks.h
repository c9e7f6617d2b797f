// Memory layouts of the GGUF/ggml quantized blocks, byte for byte as stored in model files
// (ggml-common.h). Half-precision fields are raw IEEE binary16 bits; see kernels/fp16.h.
#pragma once

#include <bit>
#include <cstdint>

namespace nagare {

constexpr int kQK = 32;    // elements per block of the legacy formats (Q4_0 ... Q8_1)
constexpr int kQK_K = 256;  // elements per super-block of the K-quants
constexpr int kKScaleBytes = 12;  // packed 6-bit scales and mins of Q4_K / Q5_K

// x = d * (q - 8), q in [0, 15]; element j in the low nibble of qs[j], j + 16 in the high one.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// x = d * q + m, q in [0, 15]; nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};

// x = d * (q - 16), q in [0, 31]: low 4 bits as Q4_0, bit 4 of element j is bit j of qh
// (read as a little-endian uint32).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// x = d * q + m, q in [0, 31]; bit layout as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// x = d * q.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// Activation format for Q4_1 / Q5_1: x = d * q; s = fp16(d * sum(q)) lets the dot product
// apply the weight's offset m without touching the quants.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};

// 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q in [0, 15], 6-bit sc/m packed in
// `scales` (see unpack_k4_scales below). Each 32-byte group of qs holds two sub-blocks:
// the low nibbles the first, the high nibbles the second.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};

// As Q4_K with q in [0, 31]: bit 4 of element l of sub-block j is bit j of qh[l].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16: x = d * scales[j] * (q - 32), q in [0, 63] from 4 low bits in ql and
// 2 high bits in qh, interleaved in 128-element halves.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Activation format for the K-quants: x = d * q (d is a full float); bsums[j] is the sum of
// the 16 quants of group j, so the dot product can apply the weights' mins per group.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

// The 16 levels of the non-linear 4-bit formats IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl): a
// 4-bit quant q stands for kIQ4Values[q], denser near zero where weights cluster.
inline constexpr int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// x = d * kIQ4Values[q]; nibble order as Q4_0.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// 8 sub-blocks of 32: x = d * (ls[j] - 32) * kIQ4Values[q], ls[j] 6 bits: its low 4 bits are
// nibble j % 2 of scales_l[j / 2], its top 2 bits are bits 2j, 2j+1 of scales_h (see
// iq4_xs_scale). Each sub-block's 16 bytes of qs in Q4_0's nibble order.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16: x = d * sc[j] * q - dmin * m[j], q in [0, 3], sc[j] / m[j] the low /
// high nibble of scales[j]. Each 32-byte group of qs holds four 32-element runs, one per bit
// pair (elements 128 k + 32 s + l in bits 2s, 2s+1 of qs[32 k + l]).
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};

// 16 sub-blocks of 16: x = d * (sc[j] - 32) * (q - 4), q in [0, 7]: its low 2 bits in qs as
// Q2_K's, its third bit (element e) bit e / 32 of hmask[e % 32]; the 6-bit sc[j] packed in
// `scales` (see unpack_q3_k_scales).
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};

// The 16 levels of MXFP4's 4-bit E2M1 code, doubled so they are integers (ggml's
// kvalues_mxfp4): codes 8-15 are the negatives of 0-7 (code 8 is -0, stored as 0).
inline constexpr int8_t kMXFP4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// OCP microscaling FP4: x = 2^(e - 127) * E2M1(q) = e8m0_to_fp32_half(e) * kMXFP4Values[q];
// nibble order as Q4_0.
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[kQK / 2];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockMXFP4) == 17);

// The eight 6-bit sub-block scales and mins of a Q4_K/Q5_K block, unpacked from `scales`:
// sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins), sub-blocks 4-7 in
// the nibbles of bytes 8-11 with their top 2 bits in the top bits of bytes 0-7.
inline void unpack_k4_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
    sc[j + 4] = uint8_t((s[j + 8] & 0x0f) | ((s[j] >> 6) << 4));
    mn[j + 4] = uint8_t((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
  }
}

// Sub-block j's signed scale ls - 32 (in [-32, 31]) of an IQ4_XS block.
inline int iq4_xs_scale(const BlockIQ4_XS& b, int j) {
  const int ls = ((b.scales_l[j / 2] >> (4 * (j % 2))) & 0x0f) | (((b.scales_h >> (2 * j)) & 3) << 4);
  return ls - 32;
}

// The sixteen 6-bit scales of a Q3_K block minus 32 (in [-32, 31]): sub-block j's low 4 bits
// are nibble j / 8 of byte j % 8, its top 2 bits are bits 2 (j / 4), +1 of byte 8 + j % 4.
inline void unpack_q3_k_scales(const uint8_t* s, int8_t sc[16]) {
  for (int j = 0; j < 16; ++j) {
    const int lo = (s[j % 8] >> (4 * (j / 8))) & 0x0f;
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    sc[j] = int8_t((lo | (hi << 4)) - 32);
  }
}

// Half of MXFP4's E8M0 block scale, 2^(e - 128), by building the float's bits (ggml's
// ggml_e8m0_to_fp32_half): the half undoes the doubling of kMXFP4Values. e = 0 and 1 give the
// subnormals 2^-128 and 2^-127; e = 255 gives 2^127 (no NaN, as ggml).
inline float e8m0_to_fp32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? uint32_t(0x00200000) << e : uint32_t(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

}  // namespace nagare
