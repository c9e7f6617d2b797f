// The quantization kernels against the references recorded by scripts/golden/dequant.py
// (tests/golden/kernels/manifest.txt): dequantization equals the gguf package bit for bit on
// random blocks of every type and on real rows of both test models; quantize_row equals
// llama.cpp's quantize_row_*_ref (and gguf.quants.quantize where it has the type) byte for
// byte (IQ4_NL, IQ4_XS, Q2_K, Q3_K, MXFP4: llama.cpp's quantize_<type> without an imatrix);
// vec_dot agrees with llama.cpp's own dot-product kernels to rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "gguf/gguf_file.h"
#include "kernels/quant.h"
#include "test_quant_util.h"

namespace nagare {
namespace {

using testing::as_floats;
using testing::float_bits;
using testing::kernels_golden;
using testing::read_bytes;
using testing::type_from_name;

std::vector<std::vector<std::string>> manifest(const std::string& kind) {
  std::ifstream in(kernels_golden("manifest.txt"));
  EXPECT_TRUE(in.good()) << "missing " << kernels_golden("manifest.txt");
  std::vector<std::vector<std::string>> records;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> rec;
    for (std::string f; fields >> f;) rec.push_back(f);
    if (!rec.empty() && rec[0] == kind) records.push_back(rec);
  }
  EXPECT_FALSE(records.empty()) << "no '" << kind << "' records in the manifest";
  return records;
}

// Bitwise equality (NaN payloads and -0 included), reporting the first mismatch.
void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(float_bits(got[i]), float_bits(want[i]))
        << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

TEST(QuantGolden, DequantizeRandomBlocksMatchesGguf) {
  std::set<std::string> seen;
  for (const auto& r : manifest("dequant")) {
    const GgmlType type = type_from_name(r[1]);
    const int64_t n = std::stoll(r[2]);
    const auto raw = read_bytes(kernels_golden(r[3]));
    const auto want = as_floats(read_bytes(kernels_golden(r[4])));
    ASSERT_EQ(raw.size(), row_bytes(type, n)) << r[1];
    std::vector<float> got(static_cast<size_t>(n));
    dequantize_row(type, raw.data(), got.data(), n);
    expect_same_bits(got, want, "dequantize " + r[1]);
    seen.insert(r[1]);
  }
  for (const char* t : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q4_K", "Q5_K",
                        "Q6_K", "Q8_K", "IQ4_NL", "IQ4_XS", "Q2_K", "Q3_K", "MXFP4"})
    EXPECT_TRUE(seen.count(t)) << "no golden dequantization for " << t;
}

TEST(QuantGolden, QuantizeMatchesLlamaCppReference) {
  std::set<std::string> seen;
  for (const auto& r : manifest("quant")) {
    const GgmlType type = type_from_name(r[1]);
    const int64_t n = std::stoll(r[2]);
    const auto x = as_floats(read_bytes(kernels_golden(r[3])));
    const auto want = read_bytes(kernels_golden(r[4]));
    ASSERT_GE(x.size(), size_t(n));
    ASSERT_EQ(want.size(), row_bytes(type, n)) << r[1];
    std::vector<uint8_t> got(want.size(), 0xAA);
    quantize_row(type, x.data(), got.data(), n);
    const auto block = ggml_type_info(uint32_t(type))->block_bytes;
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(int(got[i]), int(want[i])) << "quantize " << r[1] << ": byte " << i << " (block " << i / block
                                           << ", offset " << i % block << ")";
    seen.insert(r[1]);
  }
  for (const char* t : {"Q8_0", "Q8_1", "Q8_K", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K",
                        "IQ4_NL", "IQ4_XS", "Q2_K", "Q3_K", "MXFP4"})
    EXPECT_TRUE(seen.count(t)) << "no golden quantization for " << t;
}

// llama.cpp runs SIMD kernels that sum in a different order (and with FMA), so agreement is to
// rounding: |ours - llama.cpp| <= 2^-20 * sum_i |w_i * a_i| (measured: at most 2.9e-7 = 2^-21.7 of
// it, i.e. 4 ulp of the result; 13 of the 39 cases agree exactly).
TEST(QuantGolden, VecDotMatchesLlamaCpp) {
  for (const auto& r : manifest("vecdot")) {
    const GgmlType wt = type_from_name(r[1]);
    const GgmlType at = activation_type_for(wt);
    const int64_t n = std::stoll(r[2]);
    const auto w = read_bytes(kernels_golden(r[3]));
    const auto a = read_bytes(kernels_golden(r[4]));
    ASSERT_GE(w.size(), row_bytes(wt, n));
    ASSERT_GE(a.size(), row_bytes(at, n));
    const uint32_t bits = uint32_t(std::stoul(r[5], nullptr, 16));
    float want;
    std::memcpy(&want, &bits, 4);

    std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
    dequantize_row(wt, w.data(), wf.data(), n);
    dequantize_row(at, a.data(), af.data(), n);
    double magnitude = 0;
    for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(double(wf[size_t(i)]) * af[size_t(i)]);

    const float got = vec_dot(wt, w.data(), a.data(), n);
    EXPECT_LE(std::fabs(double(got) - want), std::ldexp(magnitude, -20))
        << r[1] << " n=" << n << ": got " << got << ", llama.cpp " << want << ", sum|w*a| " << magnitude;
  }
}

// Real rows of both test models, read through our GGUF reader, dequantize exactly as gguf does.
TEST(QuantGolden, DequantizeModelRowsMatchesGguf) {
  std::map<std::string, std::unique_ptr<GgufFile>> models;
  std::set<std::string> types;
  for (const auto& r : manifest("model")) {
    const std::string path = std::string(NAGARE_SOURCE_DIR) + "/models/" + r[1];
    if (!models.count(r[1])) {
      ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/fetch-models";
      models[r[1]] = GgufFile::open(path);
    }
    const GgufTensor& t = models[r[1]]->tensor(r[2]);
    const GgmlType type = type_from_name(r[3]);
    ASSERT_EQ(t.type, type) << r[2];
    const int64_t row = std::stoll(r[4]), n = std::stoll(r[5]);
    ASSERT_EQ(t.dims[0], n) << r[2];
    ASSERT_LT(row, t.rows()) << r[2];
    const size_t stride = row_bytes(type, n);
    std::vector<float> got(static_cast<size_t>(n));
    dequantize_row(type, t.data + size_t(row) * stride, got.data(), n);
    expect_same_bits(got, as_floats(read_bytes(kernels_golden(r[6]))), r[1] + " " + r[2] + " row " + r[4]);
    types.insert(r[3]);
  }
  for (const char* t : {"F32", "Q4_1", "Q8_0", "Q4_K", "Q5_0", "Q6_K"})
    EXPECT_TRUE(types.count(t)) << "no model rows of type " << t;
}

}  // namespace
}  // namespace nagare
