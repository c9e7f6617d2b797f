// The SIMD matrix-multiply path: weights repacked once into 16-row interleaved groups (so one
// vector lane holds one weight row and a decoded weight block serves a whole tile of tokens),
// the per-block activation side data the kernels need, and the tile entry point each ISA
// implements. matmul() in kernels/matmul.h is the user of all this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "gguf/ggml_type.h"

namespace nagare {

// Rows per packed group: one AVX-512 vector (or two AVX2 vectors) of 32-bit lanes, one per row.
constexpr int kGemmRows = 16;

// A weight matrix in the packed layout. Each group of 16 rows (the last one padded with zero
// rows) is stored as consecutive sections, each holding every block of the row in order:
//   qs  quants: 16 rows x 4 consecutive elements ("k-group") per 64 bytes, lane r = row r.
//       4-bit formats keep two k-groups per 64 bytes (k-group 2i in the low nibbles, 2i+1 in
//       the high ones); Q8_0 one k-group per 64 bytes, as signed bytes.
//   hb  bit 4 of 5-bit quants: one 64-bit word per k-group, bit 4r+m for row r, element m.
//   h2  bits 4-5 of Q6_K quants, or Q2_K's 2-bit quants: 64 bytes per 4 k-groups, k-group 4h+c
//       in bits 2c..2c+1.
//   sc  K-quant sub-block scales, [sub-block][row] (u8 for Q4_K/Q5_K/Q2_K, i8 for Q6_K, for
//       Q3_K (its 6-bit scale - 32) and for IQ4_XS, whose i8 is the signed scale ls - 32).
//   mn  Q4_K/Q5_K/Q2_K sub-block mins as [sub-block pair][row][2] u8 (an int16 pair per lane).
//   d   per-block scale of each row, fp16 [row] (MXFP4: its E8M0 exponent byte [row]);
//   m   Q4_1/Q5_1 min or K-quant dmin, fp16 [row].
// Q2_K's scales and mins are its 4-bit ones, unpacked to a byte each.
// Q3_K keeps its quants plus 4 (in [0, 7]) as 4-bit codes, in qs as the 4-bit formats do.
// IQ4_NL, IQ4_XS and MXFP4 keep their 4-bit codes in qs as the 4-bit formats do; the kernels
// look their levels up in the format's table.
// Element values and scales are exactly those of the GGUF blocks (see quant_blocks.h).
// Bytes per block in each section of a group (0: section absent); they depend on the type
// only, so the tile kernels take them as compile-time constants.
struct PackedBlockBytes {
  int64_t elements = 0;  // 32 or 256; 0 for a type without a packed layout
  size_t qs = 0, hb = 0, h2 = 0, sc = 0, mn = 0, d = 0, m = 0;
  // One block's record: its sections side by side (PackedLayout).
  constexpr size_t record() const { return qs + hb + h2 + sc + mn + d + m; }
};
constexpr PackedBlockBytes packed_block_bytes(GgmlType type) {
  constexpr size_t R = kGemmRows;
  switch (type) {
    // {block elements, bytes per block of: qs, hb, h2, sc, mn, d, m}
    case GgmlType::Q4_0: return {32, 16 * R, 0, 0, 0, 0, 2 * R, 0};
    case GgmlType::Q4_1: return {32, 16 * R, 0, 0, 0, 0, 2 * R, 2 * R};
    case GgmlType::Q5_0: return {32, 16 * R, 4 * R, 0, 0, 0, 2 * R, 0};
    case GgmlType::Q5_1: return {32, 16 * R, 4 * R, 0, 0, 0, 2 * R, 2 * R};
    case GgmlType::Q8_0: return {32, 32 * R, 0, 0, 0, 0, 2 * R, 0};
    case GgmlType::Q4_K: return {256, 128 * R, 0, 0, 8 * R, 8 * R, 2 * R, 2 * R};
    case GgmlType::Q5_K: return {256, 128 * R, 32 * R, 0, 8 * R, 8 * R, 2 * R, 2 * R};
    case GgmlType::Q6_K: return {256, 128 * R, 0, 64 * R, 16 * R, 0, 2 * R, 0};
    case GgmlType::Q2_K: return {256, 0, 0, 64 * R, 16 * R, 16 * R, 2 * R, 2 * R};
    case GgmlType::Q3_K: return {256, 128 * R, 0, 0, 16 * R, 0, 2 * R, 0};
    case GgmlType::IQ4_NL: return {32, 16 * R, 0, 0, 0, 0, 2 * R, 0};
    case GgmlType::IQ4_XS: return {256, 128 * R, 0, 0, 8 * R, 0, 2 * R, 0};
    case GgmlType::MXFP4: return {32, 16 * R, 0, 0, 0, 0, 1 * R, 0};
    default: return {};
  }
}

// A group of 16 rows is its blocks' records in order, block b's at b * block.record(): a tile
// reads its groups as ascending streams, which the hardware prefetchers follow. (With each
// section a run of its own, a group of short rows was three to six streams interleaved within
// the same pages, and a decode step read a 576-column matrix at half the bandwidth.)
struct PackedLayout {
  PackedBlockBytes block;  // bytes per block in each section
  size_t qs = 0, hb = 0, h2 = 0, sc = 0, mn = 0, d = 0, m = 0;  // each section's offset in a record
  size_t group_bytes = 0;
};

// Whether `type` has a packed layout (the quantized weight types; not F32/F16/BF16).
bool can_pack(GgmlType type);
PackedLayout packed_layout(GgmlType type, int64_t cols);

// One allocation that many PackedWeights are carved from (a model's matrices): backed by
// transparent huge pages, so a decode step streaming through every matrix takes a TLB miss per
// 2 MiB rather than per 4 KiB (small matrices alone never got huge pages; 4 KiB pages cost
// batched decode about a tenth of its speed).
class PackedArena {
 public:
  explicit PackedArena(size_t bytes);
  PackedArena(const PackedArena&) = delete;
  PackedArena& operator=(const PackedArena&) = delete;
  // The next `bytes` (a multiple of 64, as packed_bytes() gives); throws when the arena is full.
  uint8_t* take(size_t bytes);

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t[], Free> data_;
  size_t size_ = 0, used_ = 0;
};

// Bytes of the packed copy of a rows x cols matrix of `type` (a multiple of 64).
size_t packed_bytes(GgmlType type, int64_t rows, int64_t cols);

class PackedWeights {
 public:
  // Copies `rows` rows of `cols` elements (row_stride bytes apart) into the packed layout, in
  // memory of its own or taken from `arena` (which it then keeps alive).
  // Throws Error for a type without a packed layout or cols not a whole number of blocks.
  PackedWeights(GgmlType type, const uint8_t* data, int64_t rows, int64_t cols, size_t row_stride,
                std::shared_ptr<PackedArena> arena = nullptr);

  GgmlType type() const { return type_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t groups() const { return groups_; }
  const PackedLayout& layout() const { return layout_; }
  const uint8_t* group(int64_t g) const { return data_ + size_t(g) * layout_.group_bytes; }
  size_t bytes() const { return size_t(groups_) * layout_.group_bytes; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  GgmlType type_;
  int64_t rows_, cols_, groups_;
  PackedLayout layout_;
  std::unique_ptr<uint8_t[], Free> owned_;  // without an arena
  std::shared_ptr<PackedArena> arena_;
  uint8_t* data_ = nullptr;
};

// ---- activation side data ----
// Besides its GGUF-layout row, each quantized activation row carries per-block values the
// packed kernels would otherwise recompute for every weight row:
//   Q8_0: {float d, int32 sum of the quants} per block
//   Q8_1: {float d, float s} per block (s as stored, widened)
//   Q8_K: {int16 sums of each 32-element sub-block [8], int32 -32 * bsums[16]} per super-block
struct ActExtrasQ8_0 {
  float d;
  int32_t sum;
};
struct ActExtrasQ8_1 {
  float d;
  float s;
};
struct ActExtrasQ8_K {
  int16_t sub_sums[8];
  int32_t neg32_bsums[16];
};
size_t act_extra_bytes(GgmlType act_type, int64_t cols);  // 0 for the float formats
void compute_act_extras(GgmlType act_type, const void* row, void* extras, int64_t cols);
// An ISA's one-pass alternative (kernels/dispatch.h): the activation quantizer's bytes and
// compute_act_extras' side data, written together.
using QuantizeActFn = void (*)(const float* x, void* row, void* extras, int64_t cols);

// ---- what an ISA's tile kernel sees ----
// Plain data only: the ISA translation units are compiled with wider instruction sets, and
// sharing inline functions with them could let the linker pick their copy for everyone.
struct GemmWeightsView {
  const uint8_t* data;  // group 0
  size_t group_bytes;
  PackedLayout layout;
  int64_t rows;    // valid rows (the last group may be partial)
  int64_t blocks;  // blocks per row
};
struct GemmActView {
  const uint8_t* rows;  // token 0's quantized row
  size_t row_bytes;
  const uint8_t* extras;  // token 0's side data
  size_t extra_bytes;
};
// out[t * out_stride + r] for rows r of groups [g0, g1) and tokens t in [t0, t1). Every output
// element is computed by the same operations whatever the ranges (batch invariance).
using GemmFn = void (*)(const GemmWeightsView& w, int64_t g0, int64_t g1, const GemmActView& x, int64_t t0,
                        int64_t t1, float* out, int64_t out_stride);

}  // namespace nagare
