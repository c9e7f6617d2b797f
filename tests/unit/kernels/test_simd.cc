// The SIMD kernels of every ISA this CPU runs against the scalar reference (nagare::ref):
// activation quantizers byte for byte, vec_dot bit for bit for the quantized formats and within
// a stated rounding bound for the float formats, and the same bits on every SIMD ISA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <iterator>
#include <limits>
#include <type_traits>

#include "kernels/cpu_features.h"
#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/ops.h"
#include "kernels/ops_ref.h"
#include "kernels/quant.h"
#include "kernels/quant_blocks.h"
#include "kernels/quant_ref.h"
#include "test_quant_util.h"

namespace nagare {
namespace {

using testing::float_bits;
using testing::random_row;

std::string name(GgmlType t) { return std::string(ggml_type_name(t)); }

const KernelTable& scalar() { return *kernel_table(Isa::kScalar); }

// The SIMD tables of this architecture that this machine can run (AVX2, AVX-512 on x86-64;
// NEON on AArch64); tests note when one is missing.
std::vector<const KernelTable*> simd_tables() {
  std::vector<const KernelTable*> out;
  for (Isa isa : kAllIsas) {
    if (isa == Isa::kScalar) continue;
    if (const KernelTable* k = kernel_table(isa)) {
      out.push_back(k);
    } else {
      std::printf("[ info ] %s is not supported here: its kernels are not tested\n", isa_name(isa));
    }
  }
  return out;
}

std::vector<uint8_t> quantize_with(const KernelTable& k, GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(t, int64_t(x.size())));
  k.quantize_fn(t)(x.data(), q.data(), int64_t(x.size()));
  return q;
}

TEST(CpuFeatures, IsaNamesAndTables) {
  for (Isa isa : kAllIsas) {
    EXPECT_EQ(parse_isa(isa_name(isa)), isa);
    EXPECT_EQ(kernel_table(isa) != nullptr, isa_supported(isa)) << isa_name(isa);
    if (kernel_table(isa)) {
      EXPECT_EQ(kernel_table(isa)->isa, isa);
    }
  }
  EXPECT_FALSE(parse_isa("avx").has_value());
  EXPECT_FALSE(parse_isa("").has_value());
  EXPECT_TRUE(isa_supported(Isa::kScalar));
  EXPECT_TRUE(isa_supported(best_isa()));
  EXPECT_LE(int(active_isa()), int(best_isa()));
  EXPECT_EQ(active_kernels().isa, active_isa());
  if (isa_supported(Isa::kAvx512)) {
    EXPECT_TRUE(isa_supported(Isa::kAvx2));
  }
  // Each architecture runs only its own tiers.
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (std::find(std::begin(kAllIsas), std::end(kAllIsas), isa) == std::end(kAllIsas)) {
      EXPECT_FALSE(isa_supported(isa)) << isa_name(isa);
      EXPECT_EQ(kernel_table(isa), nullptr) << isa_name(isa);
      EXPECT_FALSE(parse_isa(isa_name(isa)).has_value()) << isa_name(isa);
    }
  }
#if defined(__aarch64__)
  EXPECT_TRUE(isa_supported(Isa::kNeon));  // mandatory in ARMv8-A
#endif
  std::printf("[ info ] best ISA %s, active %s\n", isa_name(best_isa()), isa_name(active_isa()));
}

TEST(CpuFeatures, EveryTableHasEveryKernel) {
  const GgmlType weights[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,   GgmlType::Q4_0,   GgmlType::Q4_1,
                              GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,   GgmlType::Q4_K,   GgmlType::Q5_K,
                              GgmlType::Q6_K, GgmlType::Q2_K, GgmlType::Q3_K,   GgmlType::IQ4_NL, GgmlType::IQ4_XS,
                              GgmlType::MXFP4};
  for (Isa isa : kAllIsas) {
    const KernelTable* k = kernel_table(isa);
    if (!k) continue;
    for (GgmlType t : weights) {
      EXPECT_NE(k->vec_dot_fn(t), nullptr) << isa_name(isa) << " " << name(t);
      EXPECT_NE(k->quantize_fn(activation_type_for(t)), nullptr) << isa_name(isa) << " " << name(t);
      EXPECT_EQ(k->gemm_fn(t) != nullptr, isa != Isa::kScalar) << isa_name(isa) << " " << name(t);
    }
    EXPECT_EQ(k->vec_dot_fn(GgmlType::Q8_1), nullptr);
    EXPECT_EQ(k->gemm_fn(static_cast<GgmlType>(1000)), nullptr);
  }
}

// Rows that exercise the quantizers' corner cases: exact ties, zero blocks, a repeated largest
// magnitude of both signs (the reference keeps the first), tiny and huge values.
std::vector<std::vector<float>> quantizer_rows(int64_t n, std::mt19937& rng) {
  std::vector<std::vector<float>> rows;
  rows.push_back(random_row(rng, n));
  rows.push_back(random_row(rng, n, -30, 30));
  std::vector<float> ties(size_t(n), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    // Blocks with max 127 have d = 1, so halves are exact ties for the Q8_0 rounding; for Q8_K
    // the scale is -127/max and max = -127 makes it 1 as well.
    const int64_t j = i % 32;
    ties[size_t(i)] = j == 0 ? ((i / 32) % 2 ? 127.0f : -127.0f) : float(int(j) - 16) + 0.5f;
  }
  rows.push_back(ties);
  std::vector<float> zeros = random_row(rng, n);
  for (int64_t i = 0; i < std::min<int64_t>(n, 256); ++i) zeros[size_t(i)] = (i % 3 == 0) ? -0.0f : 0.0f;
  rows.push_back(zeros);
  std::vector<float> both = random_row(rng, n, -2, 0);
  for (int64_t b = 0; b < n; b += 32) {
    both[size_t(b + 3) % size_t(n)] = -4.0f;
    both[size_t(b + 9) % size_t(n)] = 4.0f;
  }
  rows.push_back(both);
  rows.push_back(random_row(rng, n, -140, -120));  // fp16 subnormals and zeros
  // Just below the ties (d = 1 again): the floats below k + 0.5, and below 0.5 itself.
  std::vector<float> near = ties;
  for (int64_t i = 0; i < n; ++i)
    if (i % 32 != 0) near[size_t(i)] = std::nextafter(near[size_t(i)], 0.0f);
  near[1 % size_t(n)] = std::nextafter(0.5f, 0.0f);
  near[2 % size_t(n)] = -std::nextafter(0.5f, 0.0f);
  rows.push_back(near);
  return rows;
}

TEST(Simd, ActivationQuantizersMatchReferenceByteForByte) {
  std::mt19937 rng(11);
  const auto tables = simd_tables();
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::F16, GgmlType::BF16, GgmlType::F32}) {
    const int64_t blk = block_elements(t);
    std::vector<int64_t> shapes;
    if (blk == 1) shapes = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 576, 1001};
    else if (blk == 32) shapes = {32, 64, 96, 576, 640, 2048};
    else shapes = {256, 512, 1536, 2048};
    for (int64_t n : shapes) {
      for (const auto& x : quantizer_rows(n, rng)) {
        const auto want = quantize_with(scalar(), t, x);
        for (const KernelTable* k : tables) {
          const auto got = quantize_with(*k, t, x);
          ASSERT_EQ(got, want) << isa_name(k->isa) << " " << name(t) << " n=" << n;
        }
      }
    }
  }
}

// The one-pass quantizers with side data, where an ISA has them: the reference's bytes and
// compute_act_extras of those bytes, for every block count up to three groups of 16 and past.
TEST(Simd, QuantizeWithExtrasMatchesQuantizeThenExtras) {
  std::mt19937 rng(12);
  int tested = 0;
  for (const KernelTable* k : simd_tables()) {
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
      const QuantizeActFn fn = k->quantize_act_fn(t);
      if (fn == nullptr) continue;
      ++tested;
      const int64_t blk = block_elements(t);
      for (int64_t nb : {1, 2, 3, 7, 15, 16, 17, 18, 20, 31, 32, 33, 48, 49, 64}) {
        const int64_t n = nb * blk;
        for (const auto& x : quantizer_rows(n, rng)) {
          const auto want = quantize_with(scalar(), t, x);
          std::vector<uint8_t> want_extras(act_extra_bytes(t, n)), got(want.size()), got_extras(want_extras.size() + 64, 0xa5);
          compute_act_extras(t, want.data(), want_extras.data(), n);
          fn(x.data(), got.data(), got_extras.data(), n);
          ASSERT_EQ(got, want) << isa_name(k->isa) << " " << name(t) << " blocks=" << nb;
          ASSERT_TRUE(std::equal(want_extras.begin(), want_extras.end(), got_extras.begin()))
              << isa_name(k->isa) << " " << name(t) << " blocks=" << nb;
          // Nothing written past the row's extras.
          for (size_t i = want_extras.size(); i < got_extras.size(); ++i) ASSERT_EQ(got_extras[i], 0xa5) << nb;
        }
      }
    }
  }
  if (kernel_table(Isa::kAvx512)) {
    EXPECT_GE(tested, 2);  // AVX-512 has them for Q8_0 and Q8_1
  }
  if (tested == 0) std::printf("[ info ] no ISA here has one-pass quantizers\n");
}

TEST(Simd, Bf16QuantizerKeepsNanInfAndRounding) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {inf, -inf, nan, -nan, 1.00390625f, 1.01171875f, 3.4e38f, -1e-40f, 0.0f, -0.0f};
  while (x.size() < 37) x.push_back(float(x.size()) * 1.0001f);
  const auto want = quantize_with(scalar(), GgmlType::BF16, x);
  for (const KernelTable* k : simd_tables()) EXPECT_EQ(quantize_with(*k, GgmlType::BF16, x), want) << isa_name(k->isa);
}

// vec_dot on random rows: the quantized formats equal the reference exactly; the float formats
// differ from it only by the float rounding of the final accumulation. Each of the two is within
// (blocks + 16) * 2^-24 * sum |w_i a_i| of the exact dot (test_quant.cc), so they are within
// twice that of each other; the worst measured ratio is printed.
TEST(Simd, VecDotAgainstReference) {
  std::mt19937 rng(12);
  const auto tables = simd_tables();
  // Every type to the bit, the float ones included (8 lanes of fused multiply-adds, one order).
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_1,   GgmlType::Q5_0,   GgmlType::Q5_1, GgmlType::Q8_0,
                            GgmlType::Q4_K, GgmlType::Q5_K,   GgmlType::Q6_K,   GgmlType::IQ4_NL, GgmlType::IQ4_XS,
                            GgmlType::Q2_K, GgmlType::Q3_K,   GgmlType::MXFP4,  GgmlType::F32,  GgmlType::F16,
                            GgmlType::BF16};
  auto shapes_for = [](GgmlType t) -> std::vector<int64_t> {
    const int64_t blk = block_elements(t);
    if (blk == 1) return {1, 2, 3, 5, 7, 8, 9, 15, 17, 31, 32, 33, 63, 64, 65, 100, 255, 576, 1001, 4096};
    if (blk == 32) return {32, 64, 96, 320, 576, 640, 1536, 2048, 8192};
    return {256, 512, 768, 1024, 1536, 2048, 8192};
  };
  for (GgmlType wt : types) {
    const GgmlType at = activation_type_for(wt);
    for (int64_t n : shapes_for(wt))
      for (int trial = 0; trial < 4; ++trial) {
        std::vector<uint8_t> w(row_bytes(wt, n)), a(row_bytes(at, n));
        quantize_row(wt, random_row(rng, n, -3, 1).data(), w.data(), n);
        quantize_row(at, random_row(rng, n, -4, 3).data(), a.data(), n);
        const float want = scalar().vec_dot_fn(wt)(w.data(), a.data(), n);
        for (const KernelTable* k : tables)
          ASSERT_EQ(float_bits(k->vec_dot_fn(wt)(w.data(), a.data(), n)), float_bits(want))
              << isa_name(k->isa) << " " << name(wt) << " n=" << n;
      }
  }
}

// Integer-valued blocks make each dot an exact integer: every ISA must return it exactly.
TEST(Simd, VecDotExactOnIntegerBlocksEveryIsa) {
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> byte(0, 255), q8(-127, 127);
  const uint16_t one = fp32_to_fp16(1.0f);
  for (Isa isa : kAllIsas) {
    const KernelTable* k = kernel_table(isa);
    if (!k) continue;
    BlockQ8_0 a0[4];
    BlockQ5_0 w5[4];
    int64_t want = 0;
    for (int b = 0; b < 4; ++b) {
      a0[b].d = w5[b].d = one;
      for (auto& v : a0[b].qs) v = int8_t(q8(rng));
      for (auto& v : w5[b].qs) v = uint8_t(byte(rng));
      for (auto& v : w5[b].qh) v = uint8_t(byte(rng));
      float wf[32];
      dequantize_row(GgmlType::Q5_0, &w5[b], wf, 32);
      for (int j = 0; j < 32; ++j) want += int64_t(wf[j]) * a0[b].qs[j];
    }
    EXPECT_EQ(k->vec_dot_fn(GgmlType::Q5_0)(w5, a0, 128), float(want)) << isa_name(isa);

    // IQ4_XS with d = 1 and every 6-bit scale code, against d = 1 activations.
    BlockIQ4_XS wx[2];
    BlockQ8_K ak[2];
    std::vector<float> wf(512);
    int64_t want_xs = 0;
    for (int b = 0; b < 2; ++b) {
      wx[b].d = one;
      wx[b].scales_h = uint16_t(byte(rng) | byte(rng) << 8);
      for (auto& v : wx[b].scales_l) v = uint8_t(byte(rng));
      for (auto& v : wx[b].qs) v = uint8_t(byte(rng));
      ak[b].d = 1.0f;
      for (auto& v : ak[b].qs) v = int8_t(q8(rng));
    }
    dequantize_row(GgmlType::IQ4_XS, wx, wf.data(), 512);
    for (int i = 0; i < 512; ++i) want_xs += int64_t(wf[size_t(i)]) * ak[i / 256].qs[i % 256];
    EXPECT_EQ(k->vec_dot_fn(GgmlType::IQ4_XS)(wx, ak, 512), float(want_xs)) << isa_name(isa);
  }
}

// ---- float row operations (kernels/ops.h): the same bits as their scalar definitions ----

// ops.h's documented order; fused: each product added by one fused multiply-add (the
// half-precision dots), else rounded and then added (dot_f32).
float spec_dot(const float* a, const float* b, int64_t n, bool fused = false) {
  auto mac = [fused](float x, float y, float acc) { return fused ? std::fma(x, y, acc) : acc + x * y; };
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] = mac(a[i + j], b[i + j], acc[j]);
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum = mac(a[i], b[i], sum);
  return sum;
}

std::vector<uint16_t> halves(const std::vector<float>& x) {
  std::vector<uint16_t> h(x.size());
  for (size_t i = 0; i < x.size(); ++i) h[i] = fp32_to_fp16(x[i]);
  return h;
}

std::vector<float> widen(const std::vector<uint16_t>& h) {
  std::vector<float> x(h.size());
  for (size_t i = 0; i < h.size(); ++i) x[i] = fp16_to_fp32(h[i]);
  return x;
}

TEST(Simd, RowOpsMatchTheirScalarDefinitions) {
  std::mt19937 rng(14);
  const auto tables = simd_tables();
  for (int64_t n : {1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 128, 200, 256, 257}) {
    const auto a = random_row(rng, n, -3, 3);
    const auto b = random_row(rng, n, -3, 3);
    const auto bh = halves(b);
    const auto bw = widen(bh);
    for (const KernelTable* k : tables) {
      const std::string what = std::string(isa_name(k->isa)) + " n=" + std::to_string(n);
      EXPECT_EQ(float_bits(scalar().dot_f32(a.data(), b.data(), n)), float_bits(spec_dot(a.data(), b.data(), n))) << what;
      EXPECT_EQ(float_bits(k->dot_f32(a.data(), b.data(), n)), float_bits(spec_dot(a.data(), b.data(), n))) << what;
      EXPECT_EQ(float_bits(scalar().dot_f32_f16(a.data(), bh.data(), n)), float_bits(spec_dot(a.data(), bw.data(), n, true))) << what;
      EXPECT_EQ(float_bits(k->dot_f32_f16(a.data(), bh.data(), n)), float_bits(spec_dot(a.data(), bw.data(), n, true))) << what;
      std::vector<float> y = a, want = a;
      k->axpy_f16(y.data(), 0.37f, bh.data(), n);
      for (int64_t i = 0; i < n; ++i) want[size_t(i)] = std::fma(0.37f, bw[size_t(i)], want[size_t(i)]);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(float_bits(y[size_t(i)]), float_bits(want[size_t(i)])) << what;
      std::vector<float> y32 = a, want32 = a;
      k->axpy_f32(y32.data(), -1.3f, b.data(), n);
      for (int64_t i = 0; i < n; ++i) want32[size_t(i)] = std::fma(-1.3f, b[size_t(i)], want32[size_t(i)]);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(float_bits(y32[size_t(i)]), float_bits(want32[size_t(i)])) << what;
      std::vector<float> r = a;
      k->scale_round_fp16(r.data(), 0.1f, n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(float_bits(r[size_t(i)]), float_bits(fp16_to_fp32(fp32_to_fp16(a[size_t(i)] * 0.1f)))) << what;
      std::vector<uint16_t> h(size_t(n), 0);
      k->fp32_to_fp16(a.data(), h.data(), n);
      EXPECT_EQ(h, halves(a)) << what;
      std::vector<float> back(static_cast<size_t>(n));
      k->fp16_to_fp32(bh.data(), back.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(float_bits(back[size_t(i)]), float_bits(bw[size_t(i)])) << what;
    }
  }
}

// blend_in_place (attention's fold of two softmax partials): a multiply, a multiply and an add per
// element, unfused, at every length (the vectorized body and its tail).
TEST(Simd, BlendInPlaceIsTwoProductsAndASum) {
  std::mt19937 rng(29);
  for (int64_t n : {1, 3, 4, 7, 8, 64, 67}) {
    auto x = random_row(rng, n, -4, 4), y = random_row(rng, n, -4, 4);
    const float a = 0.3f, b = 0.7f;
    auto got = x;
    blend_in_place(got.data(), a, y.data(), b, n);
    for (int64_t i = 0; i < n; ++i) {
      const float xa = x[size_t(i)] * a, yb = y[size_t(i)] * b;
      ASSERT_EQ(float_bits(got[size_t(i)]), float_bits(xa + yb)) << n << " " << i;
    }
  }
}

// gelu (ops.h) in chunks with the ISA's half conversions: every element as it is alone, in place
// too, with the ends of the table's range (x <= -10: 0, x >= 10: x) across the chunk edges.
TEST(Simd, GeluRowEqualsOneElementAtATime) {
  std::mt19937 rng(23);
  auto x = random_row(rng, 700, -12, 12);
  x[255] = -10.0f;
  x[256] = 10.0f;
  x[257] = -10.5f;
  x[511] = 11.0f;
  std::vector<float> y(x.size()), one(1), in_place = x;
  gelu(x.data(), y.data(), int64_t(x.size()));
  gelu(in_place.data(), in_place.data(), int64_t(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    gelu(&x[i], one.data(), 1);
    ASSERT_EQ(float_bits(y[i]), float_bits(one[0])) << i;
    ASSERT_EQ(float_bits(in_place[i]), float_bits(one[0])) << i;
    if (x[i] <= -10.0f) {
      EXPECT_EQ(y[i], 0.0f) << i;
    }
    if (x[i] >= 10.0f) {
      EXPECT_EQ(y[i], x[i]) << i;
    }
    // ggml's tanh form, to the half precision of the table
    const double v = x[i], want = 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    EXPECT_NEAR(y[i], want, 2e-3 * std::max(1.0, std::fabs(want)) + 2e-3) << i;
  }
}

TEST(Simd, RmsNormRowsEqualsOneRowAtATime) {
  std::mt19937 rng(19);
  for (int64_t n : {1, 7, 64, 256, 640}) {
    for (int64_t rows : {1, 3, 4, 5, 8, 9, 13, 17, 40}) {
      const auto x = random_row(rng, rows * n, -8, 8);
      const auto w = random_row(rng, n, -1, 1);
      std::vector<float> want(x.size()), got(x.size()), inplace = x;
      for (int64_t r = 0; r < rows; ++r) rms_norm(x.data() + r * n, w.data(), want.data() + r * n, n, 1e-6f);
      rms_norm_rows(x.data(), w.data(), got.data(), rows, n, 1e-6f);
      rms_norm_rows(inplace.data(), w.data(), inplace.data(), rows, n, 1e-6f);
      for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << "n=" << n << " rows=" << rows;
        ASSERT_EQ(float_bits(inplace[i]), float_bits(want[i])) << "in place, n=" << n << " rows=" << rows;
      }
      // Every ISA's version equals the scalar definition, with and without weights.
      for (const float* weight : {w.data(), static_cast<const float*>(nullptr)}) {
        std::vector<float> ref_out(x.size());
        scalar().rms_norm_rows(x.data(), weight, ref_out.data(), rows, n, 1e-6f);
        for (const KernelTable* k : simd_tables()) {
          std::vector<float> out(x.size());
          k->rms_norm_rows(x.data(), weight, out.data(), rows, n, 1e-6f);
          for (size_t i = 0; i < x.size(); ++i)
            ASSERT_EQ(float_bits(out[i]), float_bits(ref_out[i])) << isa_name(k->isa) << " n=" << n << " rows=" << rows;
        }
        if (weight) {
          for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(float_bits(ref_out[i]), float_bits(want[i]));
        }
      }
    }
  }
}

// Attention's keys and values as rows of half (the KV cache's) or float (an encoder's) values, and
// what the kernels see of them as floats.
template <typename T>
std::vector<T> attention_rows(const std::vector<float>& x) {
  if constexpr (std::is_same_v<T, float>) return x;
  else return halves(x);
}
std::vector<float> as_floats(const std::vector<float>& x) { return x; }
std::vector<float> as_floats(const std::vector<uint16_t>& x) { return widen(x); }

template <typename T>
void axpy_rows(const KernelTable& k, float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t heads,
               const RowRun<T>* runs, int64_t n_runs, int64_t v_stride, int64_t n) {
  if constexpr (std::is_same_v<T, float>) k.axpy_f32_rows(out, out_stride, w, w_stride, heads, runs, n_runs, v_stride, n);
  else k.axpy_f16_rows(out, out_stride, w, w_stride, heads, runs, n_runs, v_stride, n);
}

// Runs of value rows with a stride, as attention reads them from the KV cache block after block
// (or an encoder from its values, one run), for the 1 to 5 query heads of a GQA group (or query
// rows) at once: each head's output is the single-row sums in row order over all the runs.
template <typename T>
void check_value_rows() {
  std::mt19937 rng(15);
  std::vector<const KernelTable*> tables = simd_tables();
  tables.push_back(&scalar());
  for (int64_t n : {8, 12, 32, 64, 72, 130, 256}) {
    for (int64_t rows : {1, 5, 8, 9, 16, 17, 40}) {
      for (int64_t heads : {1, 2, 3, 4, 5}) {
        const int64_t stride = n + 24;                   // other KV heads' elements in between
        const int64_t out_stride = n + 3, w_stride = rows + 2;  // and other heads' outputs and weights
        const auto v = attention_rows<T>(random_row(rng, rows * stride, -2, 2));
        const auto vw = as_floats(v);
        const auto w = random_row(rng, heads * w_stride, -4, 0);
        std::vector<float> want(size_t(heads * out_stride), 0.5f);
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < n; ++j) {
              float& o = want[size_t(h * out_stride + j)];
              o = std::fma(w[size_t(h * w_stride + r)], vw[size_t(r * stride + j)], o);
            }
        // The rows as one run, and cut into runs of 1 to 16 rows (blocks: the first starting
        // mid-block), given in reverse memory order so that a kernel stepping through memory
        // instead of through the runs fails.
        std::vector<T> shuffled(v.size());
        std::vector<RowRun<T>> cut;
        const int64_t len = 1 + rows % 7 + (n % 3) * 4;
        for (int64_t r = 0, end = int64_t(v.size()); r < rows;) {
          const int64_t count = std::min(r == 0 ? len / 2 + 1 : len, rows - r);
          end -= count * stride;
          std::copy(v.begin() + r * stride, v.begin() + (r + count) * stride, shuffled.begin() + end);
          cut.push_back({shuffled.data() + end, count});
          r += count;
        }
        const RowRun<T> whole{v.data(), rows};
        for (const KernelTable* k : tables)
          for (bool one_run : {true, false}) {
            const std::string what = std::string(isa_name(k->isa)) + " n=" + std::to_string(n) + " rows=" +
                                     std::to_string(rows) + " heads=" + std::to_string(heads) + " runs=" +
                                     std::to_string(one_run ? 1 : cut.size());
            std::vector<float> out(want.size(), 0.5f);
            if (one_run) axpy_rows(*k, out.data(), out_stride, w.data(), w_stride, heads, &whole, 1, stride, n);
            else axpy_rows(*k, out.data(), out_stride, w.data(), w_stride, heads, cut.data(), int64_t(cut.size()), stride, n);
            for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(float_bits(out[i]), float_bits(want[i])) << what << " at " << i;
          }
      }
    }
  }
}

TEST(Simd, AttentionValueRowsMatchSingleRows) { check_value_rows<uint16_t>(); }
TEST(Simd, EncoderValueRowsMatchSingleRows) { check_value_rows<float>(); }

template <typename T>
void key_groups(const KernelTable& k, const float* q, int64_t n_q, int64_t q_stride, const T* const* groups, int64_t n_groups,
                int64_t stride, int64_t n, float scale, float* out, int64_t out_stride) {
  if constexpr (std::is_same_v<T, float>) k.dot_f32_key_groups(q, n_q, q_stride, groups, n_groups, stride, n, scale, out, out_stride);
  else k.dot_f32_f16_key_groups(q, n_q, q_stride, groups, n_groups, stride, n, scale, out, out_stride);
}

// Keys stored transposed in groups of eight (the KV cache's layout within a block, and the one an
// encoder gives its float keys): every ISA gives the bits of one fused multiply-add chain per
// (query, key) in element order, for 1 to 13 query rows (every row tiling of every ISA and its
// remainders) and 1 to 11 groups (every group tiling and its remainders), in place in a block or
// in a group of their own.
template <typename T>
void check_key_groups() {
  std::mt19937 rng(16);
  std::vector<const KernelTable*> tables = simd_tables();
  tables.push_back(&scalar());
  for (int64_t n : {1, 8, 12, 32, 64, 72, 128}) {
    for (int64_t stride : {8, 16, 40}) {
      for (int64_t heads : {1, 2, 3, 4, 5, 6, 7, 13}) {
        for (int64_t n_groups : {1, 2, 3, 5, 6, 11}) {
          const int64_t q_stride = n + 5, o_stride = 8 * n_groups + 3;
          const auto q = random_row(rng, heads * q_stride, -2, 2);
          // The groups lie apart in blocks of `stride` slots, in another order than their outputs'.
          const int64_t per_block = stride / 8;
          const int64_t n_blocks = (n_groups + per_block - 1) / per_block;
          const auto keys = attention_rows<T>(random_row(rng, n_blocks * n * stride, -2, 2));
          const auto kw = as_floats(keys);
          std::vector<const T*> groups;
          std::vector<int64_t> offsets;
          for (int64_t g = 0; g < n_groups; ++g) {
            const int64_t block = n_blocks - 1 - g / per_block, within = g % per_block;
            offsets.push_back(block * n * stride + 8 * within);
            groups.push_back(keys.data() + offsets.back());
          }
          std::vector<float> want(size_t(heads * o_stride), -1.0f);
          for (int64_t h = 0; h < heads; ++h)
            for (int64_t g = 0; g < n_groups; ++g)
              for (int l = 0; l < 8; ++l) {
                float s = 0.0f;
                for (int64_t e = 0; e < n; ++e) s = std::fma(q[size_t(h * q_stride + e)], kw[size_t(offsets[size_t(g)] + e * stride + l)], s);
                want[size_t(h * o_stride + 8 * g + l)] = s * 0.125f;
              }
          for (const KernelTable* k : tables) {
            std::vector<float> got(want.size(), -1.0f);  // the gaps stay untouched
            key_groups(*k, q.data(), heads, q_stride, groups.data(), n_groups, stride, n, 0.125f, got.data(), o_stride);
            for (size_t i = 0; i < got.size(); ++i)
              ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << isa_name(k->isa) << " n=" << n << " stride=" << stride
                                                                 << " heads=" << heads << " groups=" << n_groups << " i=" << i;
          }
        }
      }
    }
  }
}

TEST(Simd, TransposedKeyScoresMatchSpec) { check_key_groups<uint16_t>(); }
TEST(Simd, EncoderKeyScoresMatchSpec) { check_key_groups<float>(); }

// Attention over a quantized KV cache (Q8_0, Q4_0): the ISAs' kernels that take eight keys
// (scores) or three heads (values) at a time give the bits of the per-row calls they stand for
// (the scalar vec_dot per (key, query), and dequantize_row then axpy_f32 per value row), for key
// counts around multiples of eight, 1 to 5 query rows or heads, and head sizes of one to eight blocks.
TEST(Simd, QuantizedKvAttentionMatchesPerRowCalls) {
  std::mt19937 rng(18);
  int tested = 0;
  for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q4_0}) {
    const bool q8 = type == GgmlType::Q8_0;
    const auto quantize = q8 ? ref::quantize_row_q8_0 : ref::quantize_row_q4_0;
    const auto dequantize = q8 ? ref::dequantize_row_q8_0 : ref::dequantize_row_q4_0;
    const auto dot = q8 ? ref::vec_dot_q8_0_q8_0 : ref::vec_dot_q4_0_q8_0;
    for (const KernelTable* k : simd_tables()) {
      const AttentionScoresFn scores = k->attention_scores[int(type)];
      const AttentionValuesFn values_fn = k->attention_values[int(type)];
      if (scores == nullptr || values_fn == nullptr) continue;
      ++tested;
      for (int64_t n : {32, 64, 128, 256}) {
        const int64_t row = int64_t(row_bytes(type, n)), stride = row + 6;  // rows apart, as heads in a block
        const int64_t q_row = int64_t(row_bytes(GgmlType::Q8_0, n));
        // Keys and queries near one direction: large block sums, whose products with a scale
        // need rounding, so that the float steps' order shows.
        std::vector<float> base = random_row(rng, n, -1, 1);
        for (float& b : base) b = b < 0 ? -3.0f : 3.0f;  // levels near their extremes
        auto near_base = [&](float spread) {
          std::vector<float> x = random_row(rng, n, -spread, spread);
          for (int64_t e = 0; e < n; ++e) x[size_t(e)] += base[size_t(e)];
          return x;
        };
        for (int64_t n_keys : {1, 7, 8, 9, 16, 17}) {
          std::vector<uint8_t> keys(size_t(n_keys * stride)), values(size_t(n_keys * stride));
          for (int64_t i = 0; i < n_keys; ++i) {
            quantize(near_base(0.2f).data(), keys.data() + i * stride, n);
            quantize(random_row(rng, n, -3, 3).data(), values.data() + i * stride, n);
          }
          for (int64_t rows : {1, 2, 3, 4, 5}) {
            const int64_t q_stride = q_row + 2, o_stride = n_keys + 3;
            std::vector<uint8_t> q(size_t(rows * q_stride));
            for (int64_t j = 0; j < rows; ++j) ref::quantize_row_q8_0(near_base(0.2f).data(), q.data() + j * q_stride, n);
            std::vector<float> want(size_t(rows * o_stride), -1.0f), got(want.size(), -1.0f);
            for (int64_t j = 0; j < rows; ++j)
              for (int64_t i = 0; i < n_keys; ++i)
                want[size_t(j * o_stride + i)] = dot(keys.data() + i * stride, q.data() + j * q_stride, n) * 0.125f;
            scores(keys.data(), stride, n_keys, q.data(), q_stride, rows, n, 0.125f, got.data(), o_stride);
            for (size_t i = 0; i < got.size(); ++i)
              ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << isa_name(k->isa) << " " << name(type) << " scores n=" << n
                                                                 << " keys=" << n_keys << " rows=" << rows << " i=" << i;

            // Values: `rows` heads, each with its weights over the n_keys value rows.
            const int64_t w_stride = n_keys + 1, out_stride = n + 4;
            const auto w = random_row(rng, rows * w_stride, 0, 1);
            const auto start = random_row(rng, rows * out_stride, -1, 1);
            std::vector<float> want_v = start, got_v = start;
            std::vector<float> v_row(static_cast<size_t>(n));
            for (int64_t h = 0; h < rows; ++h)
              for (int64_t i = 0; i < n_keys; ++i) {
                dequantize(values.data() + i * stride, v_row.data(), n);
                ref::axpy_f32(want_v.data() + h * out_stride, w[size_t(h * w_stride + i)], v_row.data(), n);
              }
            values_fn(got_v.data(), out_stride, w.data(), w_stride, rows, values.data(), stride, n_keys, n);
            for (size_t i = 0; i < got_v.size(); ++i)
              ASSERT_EQ(float_bits(got_v[i]), float_bits(want_v[i])) << isa_name(k->isa) << " " << name(type) << " values n=" << n
                                                                     << " rows=" << n_keys << " heads=" << rows << " i=" << i;
          }
        }
      }
    }
  }
  if (tested == 0) std::printf("[ info ] no ISA here has quantized-KV attention kernels\n");
}

// Whether std::exp(float) is glibc's FMA expf, which ref::exp_glibc reproduces.
bool glibc_fma_expf() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 28)) && defined(__aarch64__)
  return true;  // FMA is part of ARMv8-A
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 28))
  return isa_supported(Isa::kAvx2);  // AVX2 implies FMA here
#else
  return false;
#endif
}

// max_f32: every ISA gives the scalar's value, NaNs passed over, -inf and the initial value kept.
TEST(Simd, MaxSameEveryIsa) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> score(-50.0f, 50.0f);
  for (int64_t n : {0, 1, 3, 4, 7, 8, 15, 16, 17, 33, 256, 257}) {
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = score(rng);
      if (variant == 1 && n > 2) x[2] = NAN;
      if (variant == 2) std::fill(x.begin(), x.end(), -INFINITY);
      const float init = variant == 3 ? 1000.0f : -INFINITY;
      float want = init;
      for (float v : x)
        if (v > want) want = v;
      EXPECT_EQ(float_bits(scalar().max_f32(x.data(), n, init)), float_bits(want)) << "n=" << n;
      for (const KernelTable* k : simd_tables())
        EXPECT_EQ(float_bits(k->max_f32(x.data(), n, init)), float_bits(want)) << isa_name(k->isa) << " n=" << n << " variant " << variant;
    }
  }
}

// softmax_exp: every ISA gives the bits of its definition, exp_softmax of each input and the
// sum in eight lanes added pairwise, then the tail in order.
TEST(Simd, SoftmaxExpSameBitsEveryIsa) {
  std::mt19937 rng(17);
  // Scores reaching the exponential's special cases (underflow, -inf) in most runs of 32 and
  // scores that never do (the SIMD versions' fast path), in runs of 32 with one out of range.
  std::uniform_real_distribution<float> score(-110.0f, 5.0f), in_range(-80.0f, 0.0f);
  for (int64_t n : {1, 5, 8, 9, 16, 31, 64, 100, 513, 32, 96, 200})
  for (int mode = 0; mode < 3; ++mode) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = mode == 0 ? score(rng) : in_range(rng);
    if (mode == 0 && n > 3) x[3] = -INFINITY;
    if (mode == 2) x[size_t(n) / 2] = -100.0f;
    const float max = *std::max_element(x.begin(), x.end());
    std::vector<float> want = x;
    float lanes[8] = {};
    for (int64_t i = 0; i < n; ++i) {
      want[size_t(i)] = ref::exp_softmax(x[size_t(i)] - max);
      if (i < n / 8 * 8) lanes[i % 8] += want[size_t(i)];
    }
    float want_sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (int64_t i = n / 8 * 8; i < n; ++i) want_sum += want[size_t(i)];
    std::vector<const KernelTable*> tables = simd_tables();
    tables.push_back(&scalar());
    for (const KernelTable* k : tables) {
      std::vector<float> got = x;
      const float s = k->softmax_exp(got.data(), max, n);
      EXPECT_EQ(float_bits(s), float_bits(want_sum)) << isa_name(k->isa) << " n=" << n;
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << isa_name(k->isa) << " " << i;
    }
  }
}

// Every 509th float bit pattern (8M values, all exponents and signs) and the edges.
std::vector<float> exp_test_inputs() {
  std::vector<float> xs;
  for (uint64_t u = 0; u < (uint64_t(1) << 32); u += 509) {
    float f;
    const uint32_t v = uint32_t(u);
    std::memcpy(&f, &v, 4);
    xs.push_back(f);
  }
  for (float f : {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 88.0f, -88.0f, 0x1.62e42ep+6f, 0x1.62e430p+6f, -0x1.9fe368p+6f,
                  -0x1.9fe36ap+6f, -0x1.9d1d9ep+6f, -0x1.9d1da0p+6f, 1e-45f, -1e-45f, -0x1.5d58ap+6f, -0x1.5d58a2p+6f,
                  0x1.6p+6f, 0x1.600002p+6f})
    xs.push_back(f);
  return xs;
}

// softmax's exponential: within an ulp of exp where exp is a normal float; 0 below ln 2^-126,
// +inf above 88, NaN for NaN; every ISA the same bits over all these inputs (max 0).
TEST(Simd, SoftmaxExpAccurate) {
  const std::vector<float> xs = exp_test_inputs();
  double worst_ulp = 0;
  for (float x : xs) {
    const float e = ref::exp_softmax(x);
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(e)) << x;
    } else if (x < -0x1.5d58ap+6f) {
      EXPECT_EQ(float_bits(e), float_bits(0.0f)) << x;
    } else if (x > 88.0f) {
      EXPECT_EQ(e, INFINITY) << x;
    } else {
      const double exact = std::exp(double(x));
      if (exact >= 0x1p-126) worst_ulp = std::max(worst_ulp, std::fabs(e - exact) / std::ldexp(1.0, std::ilogb(exact) - 23));
      else EXPECT_NEAR(e, exact, 0x1p-149) << x;
    }
  }
  std::printf("[ info ] softmax exp: worst %.3f ulp\n", worst_ulp);
  EXPECT_LT(worst_ulp, 1.0);
  for (const KernelTable* k : simd_tables()) {
    std::vector<float> got = xs, want = xs;
    k->softmax_exp(got.data(), 0.0f, int64_t(got.size()));
    scalar().softmax_exp(want.data(), 0.0f, int64_t(want.size()));
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::isnan(want[i])) {
        ASSERT_TRUE(std::isnan(got[i])) << isa_name(k->isa) << " x=" << xs[i];
        continue;
      }
      ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << isa_name(k->isa) << " x=" << xs[i];
    }
  }
}

// silu_mul's exponential is glibc's expf algorithm, so on glibc 2.28+ with FMA (where our SIMD
// ISAs run) it equals std::exp exactly.
TEST(Simd, ExpEqualsStdExp) {
  const std::vector<float> xs = exp_test_inputs();
  const bool glibc_fma = glibc_fma_expf();
  int64_t differ = 0;
  double worst_ulp = 0;
  for (float x : xs) {
    const float e = ref::exp_glibc(x), want = std::exp(x);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(e)) << x;
      continue;
    }
    if (float_bits(e) != float_bits(want)) ++differ;
    if (std::isfinite(want) && want >= 0x1p-126f) {
      const double exact = std::exp(double(x));
      worst_ulp = std::max(worst_ulp, std::fabs(e - exact) / std::ldexp(1.0, std::ilogb(exact) - 23));
    }
  }
  std::printf("[ info ] exp: %lld of %zu differ from std::exp, worst %.3f ulp\n", (long long)differ, xs.size(), worst_ulp);
  EXPECT_LT(worst_ulp, 0.51);
  if (glibc_fma) {
    EXPECT_EQ(differ, 0);
  }
  // And the vector version on whole rows of these values, as silu_mul's (gate = -x, up = 1).
  std::vector<float> gate(xs.size()), up(xs.size(), 1.0f), want(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) gate[i] = -xs[i];
  scalar().silu_mul(gate.data(), up.data(), want.data(), int64_t(xs.size()));
  for (const KernelTable* k : simd_tables()) {
    std::vector<float> got(xs.size());
    k->silu_mul(gate.data(), up.data(), got.data(), int64_t(xs.size()));
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::isnan(want[i])) continue;
      ASSERT_EQ(float_bits(got[i]), float_bits(want[i])) << isa_name(k->isa) << " x=" << xs[i];
    }
  }
}

TEST(Simd, SiluMulMatchesScalarAndStdExp) {
  std::mt19937 rng(18);
  for (int64_t n : {1, 3, 4, 5, 8, 17, 576, 1537}) {
    auto gate = random_row(rng, n, -6, 7);
    const auto up = random_row(rng, n, -2, 2);
    std::vector<float> want(static_cast<size_t>(n)), libm(static_cast<size_t>(n));
    scalar().silu_mul(gate.data(), up.data(), want.data(), n);
    for (int64_t i = 0; i < n; ++i) libm[size_t(i)] = gate[size_t(i)] / (1.0f + std::exp(-gate[size_t(i)])) * up[size_t(i)];
    if (glibc_fma_expf()) {  // then the scalar definition is exactly the original formula
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(float_bits(want[size_t(i)]), float_bits(libm[size_t(i)])) << i;
    }
    for (const KernelTable* k : simd_tables()) {
      std::vector<float> out = gate;  // in place, as the model calls it
      k->silu_mul(out.data(), up.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(float_bits(out[size_t(i)]), float_bits(want[size_t(i)])) << isa_name(k->isa) << " " << i;
    }
  }
}

TEST(Simd, GeluTableLookupMatchesScalar) {
  std::mt19937 rng(16);
  std::vector<uint16_t> table(65536 + 2);
  std::uniform_int_distribution<int> any(0, 0x7bff);
  for (auto& v : table) v = uint16_t(any(rng));
  for (int64_t n : {1, 7, 8, 9, 33, 640}) {
    auto gate = random_row(rng, n, -6, 5);
    gate[0] = -10.0f;
    if (n > 1) gate[1] = 10.0f;
    if (n > 2) gate[2] = 65519.0f;  // the largest float that rounds to a finite half
    const auto up = random_row(rng, n, -2, 2);
    std::vector<float> want(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const float x = gate[size_t(i)];
      const float g = x <= -10.0f ? 0.0f : x >= 10.0f ? x : fp16_to_fp32(table[fp32_to_fp16(x)]);
      want[size_t(i)] = g * up[size_t(i)];
    }
    for (const KernelTable* k : simd_tables()) {
      std::vector<float> out(static_cast<size_t>(n));
      k->gelu_table_mul(table.data(), gate.data(), up.data(), out.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(float_bits(out[size_t(i)]), float_bits(want[size_t(i)])) << isa_name(k->isa) << " " << i;
    }
  }
}

}  // namespace
}  // namespace nagare
