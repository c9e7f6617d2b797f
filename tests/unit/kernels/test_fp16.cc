// IEEE binary16 and bfloat16 conversions (kernels/fp16.h): exhaustive over all 16-bit patterns,
// every rounding boundary between adjacent representable values, and the hardware/compiler
// conversion (_Float16) on a large sample of float bit patterns.
#include "kernels/fp16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_quant_util.h"

namespace nagare {
namespace {

using testing::float_bits;

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Value of a finite half by its definition, computed independently of fp16.h.
double half_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
  const double v = exp == 0 ? std::ldexp(double(mant), -24) : std::ldexp(double(1024 + mant), exp - 25);
  return sign ? -v : v;
}

bool half_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

TEST(Fp16, ToFloatExhaustive) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(uint16_t(h));
    const bool neg = (h & 0x8000) != 0;
    if ((h & 0x7c00) == 0x7c00) {
      if (h & 0x3ff) {
        ASSERT_TRUE(std::isnan(f)) << std::hex << h;
        ASSERT_EQ(std::signbit(f), neg) << std::hex << h;
      } else {
        ASSERT_EQ(f, neg ? -INFINITY : INFINITY) << std::hex << h;
      }
      continue;
    }
    ASSERT_EQ(double(f), half_value(uint16_t(h))) << std::hex << h;
    ASSERT_EQ(std::signbit(f), neg) << std::hex << h;  // -0 stays -0
  }
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x3555), 0.333251953125f);
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(0.1f), 0x2e66);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65519.996f), 0x7bff);  // just under the overflow midpoint
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);    // the midpoint ties to even: infinity
  EXPECT_EQ(fp32_to_fp16(1e9f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);                  // tie to even (zero)
  EXPECT_EQ(fp32_to_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);                  // 1.5 ulp: tie up to even
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.5f, -24)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);           // tie to even
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);           // tie to even (up)
  const uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(half_is_nan(nan));
  EXPECT_TRUE(half_is_nan(fp32_to_fp16(from_bits(0x7f800001))));  // payload only in low bits
  EXPECT_TRUE(half_is_nan(fp32_to_fp16(from_bits(0xffc00000))));
  EXPECT_EQ(fp32_to_fp16(from_bits(0xffc00000)) & 0x8000, 0x8000);
}

// Every finite half survives a round trip; every midpoint between neighbours ties to the even
// one, and the floats just beside it go to the nearer neighbour.
TEST(Fp16, FromFloatRoundingBoundariesExhaustive) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    const float f = fp16_to_fp32(uint16_t(h));
    ASSERT_EQ(fp32_to_fp16(f), h) << std::hex << h;
    const uint32_t next = h + 1;  // next larger magnitude, same sign (0x7bff+1 is infinity)
    if ((h & 0x7fff) == 0x7bff) continue;
    const double lo = half_value(uint16_t(h)), hi = half_value(uint16_t(next));
    const float mid = float((lo + hi) / 2);  // exact: halves have 11 significant bits
    ASSERT_EQ(double(mid), (lo + hi) / 2);
    const uint32_t even = (h & 1) ? next : h;
    ASSERT_EQ(fp32_to_fp16(mid), even) << std::hex << h;
    const float toward_hi = std::nextafter(mid, float(hi) * 2), toward_lo = std::nextafter(mid, float(lo));
    ASSERT_EQ(fp32_to_fp16(toward_hi), next) << std::hex << h;
    ASSERT_EQ(fp32_to_fp16(toward_lo), h) << std::hex << h;
  }
}

// The compiler's half type: _Float16 where C++ has it; on AArch64 (where GCC 12 offers
// _Float16 to C only) ARM's __fp16, which converts with the IEEE fcvt instruction.
#if defined(__aarch64__)
using CompilerHalf = __fp16;
#define NAGARE_HAVE_COMPILER_HALF 1
#elif defined(__FLT16_MAX__)
using CompilerHalf = _Float16;
#define NAGARE_HAVE_COMPILER_HALF 1
#endif

#if defined(NAGARE_HAVE_COMPILER_HALF)
// The compiler's own conversion (libgcc, F16C or fcvt, IEEE round-to-nearest-even) agrees on every
// float whose top 19 bits are enumerated with low bits from a set that covers ties and their
// neighbours, and on a large pseudo-random sample.
TEST(Fp16, FromFloatMatchesCompilerFloat16) {
  const uint32_t lows[] = {0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x0800, 0x17ff};
  auto check = [](uint32_t u) {
    const float f = from_bits(u);
    const CompilerHalf ref = static_cast<CompilerHalf>(f);
    uint16_t rb;
    std::memcpy(&rb, &ref, 2);
    const uint16_t ours = fp32_to_fp16(f);
    if (std::isnan(f)) return half_is_nan(ours) && half_is_nan(rb);
    return ours == rb;
  };
  for (uint32_t top = 0; top < (1u << 19); ++top)
    for (uint32_t low : lows) {
      const uint32_t u = (top << 13) | low;
      ASSERT_TRUE(check(u)) << std::hex << u;
    }
  std::mt19937 rng(7);
  for (int i = 0; i < 4'000'000; ++i) {
    const uint32_t u = rng();
    ASSERT_TRUE(check(u)) << std::hex << u;
  }
}
#endif

TEST(Bf16, ToFloatExhaustive) {
  for (uint32_t h = 0; h < 65536; ++h) ASSERT_EQ(float_bits(bf16_to_fp32(uint16_t(h))), h << 16) << std::hex << h;
}

TEST(Bf16, FromFloatRoundingBoundariesExhaustive) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint32_t u = h << 16;
    if ((u & 0x7f800000) == 0x7f800000) continue;  // inf / nan below
    ASSERT_EQ(fp32_to_bf16(from_bits(u)), h);
    if ((h & 0x7fff) == 0x7f7f) {  // largest finite: the midpoint above ties to even = infinity
      ASSERT_EQ(fp32_to_bf16(from_bits(u | 0x8000)), (h & 0x8000) | 0x7f80);
      ASSERT_EQ(fp32_to_bf16(from_bits(u | 0x7fff)), h);
      continue;
    }
    const uint32_t even = (h & 1) ? h + 1 : h;
    ASSERT_EQ(fp32_to_bf16(from_bits(u | 0x8000)), even) << std::hex << h;  // midpoint
    ASSERT_EQ(fp32_to_bf16(from_bits(u | 0x8001)), h + 1) << std::hex << h;
    ASSERT_EQ(fp32_to_bf16(from_bits(u | 0x7fff)), h) << std::hex << h;
  }
}

TEST(Bf16, SpecialValues) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(-INFINITY), 0xff80);
  EXPECT_EQ(fp32_to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
  // NaN stays NaN (made quiet) even when its payload lives only in the bits rounding drops.
  for (uint32_t u : {0x7f800001u, 0x7fc00000u, 0xff800001u, 0x7fffffffu}) {
    const uint16_t b = fp32_to_bf16(from_bits(u));
    EXPECT_EQ(b & 0x7f80, 0x7f80) << std::hex << u;
    EXPECT_NE(b & 0x7f, 0) << std::hex << u;
    EXPECT_EQ(b & 0x8000, (u >> 16) & 0x8000) << std::hex << u;
  }
}

}  // namespace
}  // namespace nagare
