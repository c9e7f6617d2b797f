// Helpers shared by the quantization kernel tests: golden-file access and random data.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gguf/ggml_type.h"

namespace nagare::testing {

inline std::string kernels_golden(const std::string& name) {
  return std::string(NAGARE_SOURCE_DIR) + "/tests/golden/kernels/" + name;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) ADD_FAILURE() << "cannot read " << path << " (run scripts/golden/dequant.py)";
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline std::vector<float> as_floats(const std::vector<uint8_t>& b) {
  std::vector<float> f(b.size() / 4);
  std::memcpy(f.data(), b.data(), f.size() * 4);
  return f;
}

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline GgmlType type_from_name(const std::string& name) {
  for (uint32_t id = 0; id < 64; ++id) {
    auto info = ggml_type_info(id);
    if (info && info->name == name) return static_cast<GgmlType>(id);
  }
  ADD_FAILURE() << "unknown type name " << name;
  return GgmlType::F32;
}

// n normally distributed floats whose 32-element blocks have log-uniform magnitudes in
// [2^lo, 2^hi], like real activations and weights (outlier blocks included).
inline std::vector<float> random_row(std::mt19937& rng, int64_t n, double lo = -6, double hi = 3) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<double> exponent(lo, hi);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t b = 0; b < n; b += 32) {
    const float scale = float(std::exp2(exponent(rng)));
    for (int64_t i = b; i < std::min(n, b + 32); ++i) x[size_t(i)] = normal(rng) * scale;
  }
  return x;
}

}  // namespace nagare::testing
