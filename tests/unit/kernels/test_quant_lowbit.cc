// Properties of the low-bit formats Q2_K, Q3_K (activations Q8_K) and MXFP4 (Q8_0) that need no
// reference: their type tables, exact integer dot products on every ISA, every ISA's vec_dot
// equal to the scalar one on arbitrary block bytes (scale codes the quantizers rarely write
// included), and MXFP4 keeping exactly representable blocks. Byte-exactness against llama.cpp is
// test_quant_golden.cc's; statistical round-trip error test_quant.cc's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"
#include "kernels/quant_blocks.h"
#include "test_quant_util.h"

namespace nagare {
namespace {

using testing::float_bits;
using testing::random_row;

std::string name(GgmlType t) { return std::string(ggml_type_name(t)); }

constexpr GgmlType kLowBit[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::MXFP4};

TEST(QuantLowBit, TypeTables) {
  EXPECT_EQ(activation_type_for(GgmlType::Q2_K), GgmlType::Q8_K);
  EXPECT_EQ(activation_type_for(GgmlType::Q3_K), GgmlType::Q8_K);
  EXPECT_EQ(activation_type_for(GgmlType::MXFP4), GgmlType::Q8_0);
  EXPECT_EQ(row_bytes(GgmlType::Q2_K, 512), 168u);
  EXPECT_EQ(row_bytes(GgmlType::Q3_K, 512), 220u);
  EXPECT_EQ(row_bytes(GgmlType::MXFP4, 64), 34u);
  EXPECT_EQ(block_elements(GgmlType::Q3_K), 256);
  EXPECT_EQ(block_elements(GgmlType::MXFP4), 32);
  for (GgmlType t : kLowBit) {
    EXPECT_TRUE(is_supported_weight_type(t)) << name(t);
    EXPECT_TRUE(can_quantize(t)) << name(t);
    EXPECT_EQ(size_t(ggml_type_info(uint32_t(t))->block_bytes),
              t == GgmlType::Q2_K ? sizeof(BlockQ2_K) : t == GgmlType::Q3_K ? sizeof(BlockQ3_K) : sizeof(BlockMXFP4));
  }
  EXPECT_EQ(e8m0_to_fp32_half(0), std::ldexp(1.0f, -128));  // subnormal
  EXPECT_EQ(e8m0_to_fp32_half(1), std::ldexp(1.0f, -127));
  EXPECT_EQ(e8m0_to_fp32_half(128), 1.0f);
  EXPECT_EQ(e8m0_to_fp32_half(255), std::ldexp(1.0f, 127));
}

// Random bytes for n elements of `t`, with every half-precision scale set to `d` (and MXFP4's
// exponent to `e`), so the block's integer codes are arbitrary but its scale is chosen.
std::vector<uint8_t> random_blocks(std::mt19937& rng, GgmlType t, int64_t n, uint16_t d, uint8_t e) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> raw(row_bytes(t, n));
  for (auto& v : raw) v = uint8_t(byte(rng));
  for (int64_t b = 0; b < n / block_elements(t); ++b) {
    if (t == GgmlType::Q2_K) {
      auto* blk = reinterpret_cast<BlockQ2_K*>(raw.data()) + b;
      blk->d = blk->dmin = d;
    } else if (t == GgmlType::Q3_K) {
      reinterpret_cast<BlockQ3_K*>(raw.data())[b].d = d;
    } else {
      reinterpret_cast<BlockMXFP4*>(raw.data())[b].e = e;
    }
  }
  return raw;
}

// Activations for `t` with scale 1 and random quants in [-127, 127] (Q8_K's bsums consistent).
std::vector<uint8_t> unit_activations(std::mt19937& rng, GgmlType t, int64_t n) {
  std::uniform_int_distribution<int> q8(-127, 127);
  const GgmlType at = activation_type_for(t);
  std::vector<uint8_t> raw(row_bytes(at, n));
  if (at == GgmlType::Q8_K) {
    auto* a = reinterpret_cast<BlockQ8_K*>(raw.data());
    for (int64_t b = 0; b < n / kQK_K; ++b) {
      a[b].d = 1.0f;
      for (auto& v : a[b].qs) v = int8_t(q8(rng));
      for (int g = 0; g < kQK_K / 16; ++g) {
        int s = 0;
        for (int l = 0; l < 16; ++l) s += a[b].qs[16 * g + l];
        a[b].bsums[g] = int16_t(s);
      }
    }
  } else {
    auto* a = reinterpret_cast<BlockQ8_0*>(raw.data());
    for (int64_t b = 0; b < n / kQK; ++b) {
      a[b].d = fp32_to_fp16(1.0f);
      for (auto& v : a[b].qs) v = int8_t(q8(rng));
    }
  }
  return raw;
}

// Weight scale 1 (MXFP4: e = 128, so each level counts half) against activation scale 1: every
// product is an integer or a half, so each dot product is exact in float and the same on every
// ISA, whatever order it sums in. Checked through the dequantized rows.
TEST(QuantLowBit, VecDotExactOnIntegerBlocksEveryIsa) {
  std::mt19937 rng(31);
  const uint16_t one = fp32_to_fp16(1.0f);
  for (GgmlType t : kLowBit) {
    const int64_t n = 512;
    const auto w = random_blocks(rng, t, n, one, 128);
    const auto a = unit_activations(rng, t, n);
    std::vector<float> wf(size_t(n), 0.0f), af(size_t(n), 0.0f);
    dequantize_row(t, w.data(), wf.data(), n);
    dequantize_row(activation_type_for(t), a.data(), af.data(), n);
    double want = 0;
    for (size_t i = 0; i < wf.size(); ++i) {
      ASSERT_EQ(wf[i] * 2, std::round(wf[i] * 2)) << name(t) << " element " << i;
      want += double(wf[i]) * af[i];
    }
    ASSERT_LT(std::fabs(want), double(1 << 22)) << name(t);  // every partial sum exact in float
    for (Isa isa : kAllIsas) {
      if (const KernelTable* k = kernel_table(isa)) {
        EXPECT_EQ(k->vec_dot_fn(t)(w.data(), a.data(), n), float(want)) << isa_name(isa) << " " << name(t);
      }
    }
  }
}

// Arbitrary block bytes (any 4-bit Q2_K scale and min, any 6-bit Q3_K scale, any MXFP4 code)
// under varied real scales, against activations from the quantizer: each ISA's kernel gives the
// scalar kernel's bits.
TEST(QuantLowBit, VecDotRandomBlocksSameBitsEveryIsa) {
  std::mt19937 rng(32);
  std::uniform_real_distribution<float> exponent(-14, 4);
  std::uniform_int_distribution<int> e8(100, 150);
  const KernelTable& scalar = *kernel_table(Isa::kScalar);
  for (GgmlType t : kLowBit)
    for (int64_t n : {256, 512, 2048, 4096})
      for (int trial = 0; trial < 8; ++trial) {
        const float d = std::exp2(exponent(rng)) * (trial % 2 ? -1.0f : 1.0f);
        const auto w = random_blocks(rng, t, n, fp32_to_fp16(d), uint8_t(e8(rng)));
        std::vector<uint8_t> a(row_bytes(activation_type_for(t), n));
        quantize_row(activation_type_for(t), random_row(rng, n, -4, 3).data(), a.data(), n);
        const float want = scalar.vec_dot_fn(t)(w.data(), a.data(), n);
        for (Isa isa : kAllIsas) {
          if (const KernelTable* k = kernel_table(isa)) {
            ASSERT_EQ(float_bits(k->vec_dot_fn(t)(w.data(), a.data(), n)), float_bits(want))
                << isa_name(isa) << " " << name(t) << " n=" << n << " trial " << trial;
          }
        }
      }
}

// A block of levels times a power of two s, its largest magnitude 4, 6, 8 or 12 times s,
// quantizes to itself: the exponent makes the scale s (maximum 8 s, 12 s) or s / 2 (4 s, 6 s,
// then every level below is twice a level too).
TEST(QuantLowBit, Mxfp4KeepsRepresentableBlocks) {
  std::mt19937 rng(33);
  std::uniform_int_distribution<int> code(0, 15), top(4, 7), exp(-100, 100);
  for (int trial = 0; trial < 200; ++trial) {
    const float scale = std::ldexp(1.0f, exp(rng));
    const int t = top(rng);
    std::vector<float> x(kQK);
    for (auto& v : x) {
      int c;
      do c = code(rng);
      while (std::abs(kMXFP4Values[c]) > kMXFP4Values[t]);
      v = float(kMXFP4Values[c]) * scale;
    }
    x[size_t(trial % kQK)] = float(kMXFP4Values[t]) * scale * (trial % 3 ? 1.0f : -1.0f);
    BlockMXFP4 b;
    quantize_row(GgmlType::MXFP4, x.data(), &b, kQK);
    float y[kQK];
    dequantize_row(GgmlType::MXFP4, &b, y, kQK);
    for (int i = 0; i < kQK; ++i) ASSERT_EQ(y[i], x[size_t(i)]) << "trial " << trial << " element " << i;
  }
}

}  // namespace
}  // namespace nagare
