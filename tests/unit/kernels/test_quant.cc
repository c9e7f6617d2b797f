// Properties of the quantization kernels (kernels/quant.h) that need no reference: the type
// tables, error handling, quantize -> dequantize error bounds, exact integer dot products, and
// vec_dot against a double-precision dot of the dequantized rows on many shapes.
#include "kernels/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "gguf/gguf_file.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "test_quant_util.h"
#include "util/error.h"

namespace nagare {
namespace {

using testing::random_row;

const GgmlType kWeightTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                                 GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                                 GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL,
                                 GgmlType::IQ4_XS, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::MXFP4};

std::string name(GgmlType t) { return std::string(ggml_type_name(t)); }

std::vector<float> dequantized(GgmlType t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, q.data(), out.data(), n);
  return out;
}

std::vector<uint8_t> quantized(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(t, int64_t(x.size())));
  quantize_row(t, x.data(), q.data(), int64_t(x.size()));
  return q;
}

TEST(Quant, TypeTables) {
  for (GgmlType t : kWeightTypes) {
    EXPECT_TRUE(is_supported_weight_type(t)) << name(t);
    EXPECT_NE(dequantize_row_fn(t), nullptr) << name(t);
    EXPECT_NE(vec_dot_fn(t), nullptr) << name(t);
    EXPECT_TRUE(can_quantize(t)) << name(t);
    EXPECT_TRUE(can_quantize(activation_type_for(t))) << name(t);
  }
  for (GgmlType t : {GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::IQ2_XXS, GgmlType::NVFP4, GgmlType::IQ3_S, GgmlType::I32,
                     GgmlType::F64, GgmlType::TQ2_0})
    EXPECT_FALSE(is_supported_weight_type(t)) << name(t);
  EXPECT_NE(dequantize_row_fn(GgmlType::Q8_1), nullptr);
  EXPECT_NE(dequantize_row_fn(GgmlType::Q8_K), nullptr);
  EXPECT_EQ(dequantize_row_fn(GgmlType::IQ2_XXS), nullptr);
  EXPECT_FALSE(can_quantize(GgmlType::IQ3_S));

  EXPECT_EQ(activation_type_for(GgmlType::Q4_0), GgmlType::Q8_0);
  EXPECT_EQ(activation_type_for(GgmlType::Q5_0), GgmlType::Q8_0);
  EXPECT_EQ(activation_type_for(GgmlType::Q8_0), GgmlType::Q8_0);
  EXPECT_EQ(activation_type_for(GgmlType::Q4_1), GgmlType::Q8_1);
  EXPECT_EQ(activation_type_for(GgmlType::Q5_1), GgmlType::Q8_1);
  EXPECT_EQ(activation_type_for(GgmlType::Q4_K), GgmlType::Q8_K);
  EXPECT_EQ(activation_type_for(GgmlType::Q5_K), GgmlType::Q8_K);
  EXPECT_EQ(activation_type_for(GgmlType::Q6_K), GgmlType::Q8_K);
  EXPECT_EQ(activation_type_for(GgmlType::IQ4_NL), GgmlType::Q8_0);
  EXPECT_EQ(activation_type_for(GgmlType::IQ4_XS), GgmlType::Q8_K);
  EXPECT_EQ(activation_type_for(GgmlType::F16), GgmlType::F32);  // float weights take the activations as they are
  EXPECT_EQ(activation_type_for(GgmlType::BF16), GgmlType::F32);
  EXPECT_EQ(activation_type_for(GgmlType::F32), GgmlType::F32);

  EXPECT_EQ(row_bytes(GgmlType::F32, 7), 28u);
  EXPECT_EQ(row_bytes(GgmlType::F16, 3), 6u);
  EXPECT_EQ(row_bytes(GgmlType::Q4_0, 64), 36u);
  EXPECT_EQ(row_bytes(GgmlType::Q8_1, 64), 72u);
  EXPECT_EQ(row_bytes(GgmlType::Q4_K, 512), 288u);
  EXPECT_EQ(row_bytes(GgmlType::Q8_K, 256), 292u);
  EXPECT_EQ(row_bytes(GgmlType::IQ4_NL, 64), 36u);
  EXPECT_EQ(row_bytes(GgmlType::IQ4_XS, 512), 272u);
  EXPECT_EQ(block_elements(GgmlType::IQ4_XS), 256);
  EXPECT_EQ(block_elements(GgmlType::Q6_K), 256);
  EXPECT_EQ(block_elements(GgmlType::Q5_1), 32);
  EXPECT_EQ(block_elements(GgmlType::BF16), 1);
}

TEST(Quant, RejectsUnsupportedTypesAndPartialBlocks) {
  std::vector<uint8_t> buf(4096);
  std::vector<float> f(1024);
  EXPECT_THROW(dequantize_row(GgmlType::IQ2_XS, buf.data(), f.data(), 256), Error);
  EXPECT_THROW(quantize_row(GgmlType::IQ2_XXS, f.data(), buf.data(), 256), Error);
  EXPECT_THROW(vec_dot(GgmlType::Q8_1, buf.data(), buf.data(), 32), Error);
  EXPECT_THROW(dequantize_row(GgmlType::Q4_0, buf.data(), f.data(), 33), Error);
  EXPECT_THROW(quantize_row(GgmlType::Q8_K, f.data(), buf.data(), 128), Error);
  EXPECT_THROW(vec_dot(GgmlType::Q6_K, buf.data(), buf.data(), 512 + 32), Error);
  try {
    vec_dot(GgmlType::Q4_K, buf.data(), buf.data(), 100);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_K"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(dequantize_row(GgmlType::F32, buf.data(), f.data(), 3));
  EXPECT_NO_THROW(vec_dot(GgmlType::Q4_0, buf.data(), buf.data(), 0));
}

// ---- quantize -> dequantize error bounds ----

// Per block (32 elements; 256 for Q8_K), the worst error the format's rounding allows, derived
// from the quantizer: half a step, a full step for the clamped extreme of Q4_0/Q5_0, and the
// fp16 rounding of the stored scale and min; 1e-6 relative slack for float arithmetic.
double block_bound(GgmlType t, const float* x, int len) {
  float amax = 0, min = x[0], max = x[0];
  for (int i = 0; i < len; ++i) {
    amax = std::max(amax, std::fabs(x[i]));
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
  }
  const double h = std::ldexp(1.0, -11);  // fp16 relative rounding
  const double range = double(max) - min;
  double b = 0;
  switch (t) {
    case GgmlType::Q8_0:
    case GgmlType::Q8_1: b = amax / 127.0 * (0.5 + 127 * h); break;
    case GgmlType::Q4_0: b = amax / 8.0 * (1 + 8 * h); break;
    case GgmlType::Q5_0: b = amax / 16.0 * (1 + 16 * h); break;
    case GgmlType::Q4_1: b = range / 30 + range * h + std::fabs(min) * h; break;
    case GgmlType::Q5_1: b = range / 62 + range * h + std::fabs(min) * h; break;
    case GgmlType::Q8_K: b = amax / 127.0 * 0.5; break;  // float scale: no fp16 term
    default: ADD_FAILURE();
  }
  return b * (1 + 1e-6) + 1e-30;
}

TEST(Quant, RoundTripWithinFormatBoundsLegacy) {
  std::mt19937 rng(1);
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1,
                     GgmlType::Q8_K}) {
    for (int trial = 0; trial < 20; ++trial) {
      // Scales stay in fp16's normal range so its relative rounding bound holds.
      auto x = random_row(rng, 1024, -4, 6);
      if (trial == 0) std::fill(x.begin(), x.begin() + 32, 0.0f);
      if (trial == 1) std::fill(x.begin() + 64, x.begin() + 96, 2.5f);
      const auto y = dequantized(t, quantized(t, x), 1024);
      const int len = int(block_elements(t));
      for (int b = 0; b < 1024; b += len) {
        const double bound = block_bound(t, &x[size_t(b)], len);
        for (int i = b; i < b + len; ++i)
          ASSERT_LE(std::fabs(double(x[size_t(i)]) - y[size_t(i)]), bound)
              << name(t) << " trial " << trial << " element " << i << ": " << x[size_t(i)] << " -> " << y[size_t(i)];
      }
    }
  }
}

TEST(Quant, RoundTripFloatFormats) {
  std::mt19937 rng(2);
  const auto x = random_row(rng, 4096, -10, 10);
  const auto f32 = dequantized(GgmlType::F32, quantized(GgmlType::F32, x), 4096);
  const auto f16 = dequantized(GgmlType::F16, quantized(GgmlType::F16, x), 4096);
  const auto bf16 = dequantized(GgmlType::BF16, quantized(GgmlType::BF16, x), 4096);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(f32[i], x[i]);
    // Relative in fp16's normal range, half the subnormal step below it.
    const double f16_bound =
        std::fabs(x[i]) >= std::ldexp(1.0f, -14) ? std::fabs(x[i]) * std::ldexp(1.0, -11) : std::ldexp(1.0, -25);
    ASSERT_LE(std::fabs(double(x[i]) - f16[i]), f16_bound) << x[i];
    ASSERT_LE(std::fabs(double(x[i]) - bf16[i]), std::fabs(x[i]) * std::ldexp(1.0, -8)) << x[i];
  }
}

// The K-quant and IQ4 quantizers search scales for least squares (MXFP4 rounds to the nearest
// level under a power-of-two scale), so their bound is statistical: the RMS error over a row
// relative to the row's RMS, on Gaussian blocks of varying magnitude. Measured over these rows:
// Q4_K 0.075, Q5_K 0.038, Q6_K 0.019, IQ4_NL 0.080, IQ4_XS 0.082, Q2_K 0.33, Q3_K 0.16,
// MXFP4 0.12 (worst row).
TEST(Quant, RoundTripKQuantsRmsError) {
  std::mt19937 rng(3);
  const std::pair<GgmlType, double> limits[] = {{GgmlType::Q4_K, 0.10},  {GgmlType::Q5_K, 0.05},  {GgmlType::Q6_K, 0.025},
                                                {GgmlType::IQ4_NL, 0.10}, {GgmlType::IQ4_XS, 0.10}, {GgmlType::Q2_K, 0.40},
                                                {GgmlType::Q3_K, 0.20}, {GgmlType::MXFP4, 0.15}};
  for (auto [t, limit] : limits) {
    double worst = 0;
    for (int trial = 0; trial < 20; ++trial) {
      auto x = random_row(rng, 2048, -4, 2);
      if (trial == 0) std::fill(x.begin(), x.begin() + 256, 0.0f);  // an all-zero super-block
      const auto y = dequantized(t, quantized(t, x), 2048);
      double se = 0, ss = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        se += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
        ss += double(x[i]) * x[i];
        if (trial == 0 && i < 256) {
          ASSERT_EQ(y[i], 0.0f) << name(t);
        }
      }
      worst = std::max(worst, std::sqrt(se / ss));
    }
    EXPECT_LE(worst, limit) << name(t);
    RecordProperty("rms_rel_error_" + name(t), std::to_string(worst));
  }
}

// ---- dot products ----

// Blocks with scale 1 make every dot product an exact integer the test can compute directly.
TEST(Quant, VecDotExactOnIntegerBlocks) {
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> q8(-127, 127);
  const uint16_t one = fp32_to_fp16(1.0f);
  constexpr int kBlocks = 8;

  BlockQ8_0 a0[kBlocks];
  BlockQ4_0 w40[kBlocks];
  BlockQ8_0 w80[kBlocks];
  int64_t want40 = 0, want80 = 0;
  for (int b = 0; b < kBlocks; ++b) {
    a0[b].d = one;
    w40[b].d = one;
    w80[b].d = one;
    for (int j = 0; j < 32; ++j) {
      a0[b].qs[j] = int8_t(q8(rng));
      w80[b].qs[j] = int8_t(q8(rng));
      want80 += w80[b].qs[j] * a0[b].qs[j];
    }
    for (int j = 0; j < 16; ++j) {
      w40[b].qs[j] = uint8_t(byte(rng));
      want40 += ((w40[b].qs[j] & 15) - 8) * a0[b].qs[j] + ((w40[b].qs[j] >> 4) - 8) * a0[b].qs[j + 16];
    }
  }
  EXPECT_EQ(vec_dot(GgmlType::Q4_0, w40, a0, 32 * kBlocks), float(want40));
  EXPECT_EQ(vec_dot(GgmlType::Q8_0, w80, a0, 32 * kBlocks), float(want80));

  // Q6_K with d = 1 and all sub-block scales 1 against Q8_K with d = 1.
  BlockQ6_K w6[2];
  BlockQ8_K a8[2];
  std::vector<float> wf(512), af(512);
  for (auto& blk : w6) {
    for (auto& v : blk.ql) v = uint8_t(byte(rng));
    for (auto& v : blk.qh) v = uint8_t(byte(rng));
    for (auto& s : blk.scales) s = 1;
    blk.d = one;
  }
  for (auto& blk : a8) {
    blk.d = 1.0f;
    for (auto& v : blk.qs) v = int8_t(q8(rng));
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += blk.qs[16 * g + l];
      blk.bsums[g] = int16_t(s);
    }
  }
  dequantize_row(GgmlType::Q6_K, w6, wf.data(), 512);
  dequantize_row(GgmlType::Q8_K, a8, af.data(), 512);
  int64_t want6 = 0;
  for (int i = 0; i < 512; ++i) {
    ASSERT_EQ(wf[size_t(i)], std::round(wf[size_t(i)]));
    want6 += int64_t(wf[size_t(i)]) * int64_t(af[size_t(i)]);
  }
  EXPECT_EQ(vec_dot(GgmlType::Q6_K, w6, a8, 512), float(want6));
}

// IQ4_NL and IQ4_XS with d = 1 (and random 6-bit sub-block scales) against d = 1 activations:
// exact integers too, checked through the dequantized rows, so the table lookup is tested twice.
TEST(Quant, VecDotExactOnIntegerBlocksIq4) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255), q8(-127, 127);
  const uint16_t one = fp32_to_fp16(1.0f);
  BlockIQ4_NL wn[8];
  BlockQ8_0 a0[8];
  for (int b = 0; b < 8; ++b) {
    wn[b].d = a0[b].d = one;
    for (auto& v : wn[b].qs) v = uint8_t(byte(rng));
    for (auto& v : a0[b].qs) v = int8_t(q8(rng));
  }
  BlockIQ4_XS wx[2];
  BlockQ8_K ak[2];
  for (int b = 0; b < 2; ++b) {
    wx[b].d = one;
    wx[b].scales_h = uint16_t(byte(rng) | byte(rng) << 8);
    for (auto& v : wx[b].scales_l) v = uint8_t(byte(rng));
    for (auto& v : wx[b].qs) v = uint8_t(byte(rng));
    ak[b].d = 1.0f;
    for (auto& v : ak[b].qs) v = int8_t(q8(rng));
  }
  auto exact = [](GgmlType wt, const void* w, const void* a, int64_t n) {
    std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
    dequantize_row(wt, w, wf.data(), n);
    dequantize_row(activation_type_for(wt), a, af.data(), n);
    int64_t sum = 0;
    for (size_t i = 0; i < wf.size(); ++i) {
      EXPECT_EQ(wf[i], std::round(wf[i]));
      sum += int64_t(wf[i]) * int64_t(af[i]);
    }
    EXPECT_LT(std::abs(sum), int64_t(1) << 24);  // far from float's integer limit, as the partial sums
    return float(sum);
  };
  EXPECT_EQ(vec_dot(GgmlType::IQ4_NL, wn, a0, 256), exact(GgmlType::IQ4_NL, wn, a0, 256));
  EXPECT_EQ(vec_dot(GgmlType::IQ4_XS, wx, ak, 512), exact(GgmlType::IQ4_XS, wx, ak, 512));
}

// Everything the format's arithmetic may lose against the exact dot of the dequantized rows:
// float rounding of the per-block scaling and of the running sum (a few ulp per block, relative
// to sum |w_i a_i|), plus for Q4_1/Q5_1 the error of the activation sum s that stands in for
// sum(a) in the min term m * s: s = fp16(d * sum q) is rounded to fp16 and made with the
// unrounded d, while the dequantized activations use fp16(d): up to 2 * 2^-11 * |s| apart.
struct DotCheck {
  double exact = 0, magnitude = 0, s_term = 0;
};

DotCheck reference_dot(GgmlType wt, const std::vector<uint8_t>& w, const std::vector<uint8_t>& a, int64_t n) {
  const GgmlType at = activation_type_for(wt);
  const auto wf = dequantized(wt, w, n), af = dequantized(at, a, n);
  DotCheck c;
  for (int64_t i = 0; i < n; ++i) {
    const double p = double(wf[size_t(i)]) * af[size_t(i)];
    c.exact += p;
    c.magnitude += std::fabs(p);
  }
  if (at == GgmlType::Q8_1) {
    const auto* ab = reinterpret_cast<const BlockQ8_1*>(a.data());
    const size_t wbytes = ggml_type_info(uint32_t(wt))->block_bytes;
    for (int64_t b = 0; b < n / 32; ++b) {
      uint16_t m;  // Q4_1 and Q5_1 both store d then m first
      std::memcpy(&m, w.data() + size_t(b) * wbytes + 2, 2);
      const double s = std::fabs(fp16_to_fp32(ab[b].s));
      c.s_term += std::fabs(fp16_to_fp32(m)) * (2 * s * std::ldexp(1.0, -11) + std::ldexp(1.0, -25));
    }
  }
  return c;
}

double dot_bound(GgmlType wt, int64_t n, const DotCheck& c) {
  // IQ4_XS takes one float step per 32-element sub-block (ggml's order), not per super-block.
  const int64_t blocks = n / (wt == GgmlType::IQ4_XS ? 32 : std::max<int64_t>(1, block_elements(wt)));
  return double(blocks + 16) * std::ldexp(c.magnitude, -24) + c.s_term * 1.01;
}

TEST(Quant, VecDotMatchesDoubleDotOfDequantizedRows) {
  std::mt19937 rng(5);
  double worst_ratio = 0, worst_of_bound = 0;
  for (GgmlType wt : kWeightTypes) {
    const GgmlType at = activation_type_for(wt);
    const int64_t blk = block_elements(wt);
    std::vector<int64_t> shapes;
    if (blk == 1) shapes = {1, 7, 32, 100, 1000, 4096};
    else if (blk == 32) shapes = {32, 64, 96, 320, 576, 1024, 2880, 4096, 8192};
    else shapes = {256, 512, 768, 1536, 2048, 4096, 8192};
    for (int64_t n : shapes) {
      for (int trial = 0; trial < 4; ++trial) {
        const auto w = quantized(wt, random_row(rng, n, -3, 1));
        const auto a = quantized(at, random_row(rng, n, -4, 3));
        const DotCheck c = reference_dot(wt, w, a, n);
        const float got = vec_dot(wt, w.data(), a.data(), n);
        const double err = std::fabs(double(got) - c.exact);
        ASSERT_LE(err, dot_bound(wt, n, c)) << name(wt) << " n=" << n << " trial " << trial << ": got " << got
                                            << ", exact " << c.exact << ", sum|w*a| " << c.magnitude;
        EXPECT_EQ(vec_dot_fn(wt)(w.data(), a.data(), n), got);
        if (c.s_term == 0) worst_ratio = std::max(worst_ratio, err / c.magnitude);
        worst_of_bound = std::max(worst_of_bound, err / dot_bound(wt, n, c));
      }
    }
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", worst_ratio);
  RecordProperty("worst_error_over_magnitude", buf);
  std::snprintf(buf, sizeof buf, "%.3g", worst_of_bound);
  RecordProperty("worst_error_over_bound", buf);
}

// The same on real weight rows of both test models, one tensor of each quantized type.
TEST(Quant, VecDotOnModelRows) {
  const std::pair<const char*, const char*> cases[] = {
      {"SmolLM2-135M-Instruct.Q4_1.gguf", "blk.0.ffn_down.weight"},   // Q4_1
      {"SmolLM2-135M-Instruct.Q4_1.gguf", "token_embd.weight"},       // Q8_0
      {"gemma-3-270m-q4_k_m.gguf", "blk.0.attn_output.weight"},       // Q4_K
      {"gemma-3-270m-q4_k_m.gguf", "blk.0.attn_q.weight"},            // Q5_0
      {"gemma-3-270m-q4_k_m.gguf", "blk.0.ffn_down.weight"},          // Q6_K
  };
  std::mt19937 rng(6);
  for (auto [file, tensor] : cases) {
    const std::string path = std::string(NAGARE_SOURCE_DIR) + "/models/" + file;
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/fetch-models";
    auto model = GgufFile::open(path);
    const GgufTensor& t = model->tensor(tensor);
    ASSERT_TRUE(is_supported_weight_type(t.type)) << tensor;
    const int64_t n = t.dims[0];
    const size_t stride = row_bytes(t.type, n);
    for (int64_t row = 0; row < std::min<int64_t>(t.rows(), 64); ++row) {
      const std::vector<uint8_t> w(t.data + size_t(row) * stride, t.data + size_t(row + 1) * stride);
      const auto a = quantized(activation_type_for(t.type), random_row(rng, n, -4, 3));
      const DotCheck c = reference_dot(t.type, w, a, n);
      const float got = vec_dot(t.type, w.data(), a.data(), n);
      ASSERT_LE(std::fabs(double(got) - c.exact), dot_bound(t.type, n, c))
          << tensor << " row " << row << ": got " << got << ", exact " << c.exact;
    }
  }
}

}  // namespace
}  // namespace nagare
