// The exponential of kernels/ops.h's softmax_exp, shared by the scalar (ops.cc) and SIMD
// (ops_x86.h) code: the algorithm glibc's expf uses on FMA machines (glibc 2.28 and later), with
// the same table, coefficients, fused operations and special cases, so it returns exactly what
// std::exp(float) returns there, while the SIMD version runs 8 at a time.
//   exp(x) = 2^(k/32) * 2^(r/32), k = round(x * 32/ln2), r = x * 32/ln2 - k, 2^(r/32) by a cubic.
#pragma once

#include <cstdint>

namespace nagare::expf_detail {

constexpr double kInvLn2N = 0x1.71547652b82fep+5;  // 32 / ln 2
constexpr double kShift = 0x1.8p+52;               // rounds to an integer in the low bits
constexpr double kC0 = 0x1.c6af84b912394p-20, kC1 = 0x1.ebfce50fac4f3p-13, kC2 = 0x1.62e42ff0c52d6p-6;
// Bits of 2^(i/32) as doubles, less i << 47 (the exponent part k adds back).
alignas(64) inline constexpr uint64_t kTable[32] = {
    0x3ff0000000000000ull, 0x3fefd9b0d3158574ull, 0x3fefb5586cf9890full, 0x3fef9301d0125b51ull,
    0x3fef72b83c7d517bull, 0x3fef54873168b9aaull, 0x3fef387a6e756238ull, 0x3fef1e9df51fdee1ull,
    0x3fef06fe0a31b715ull, 0x3feef1a7373aa9cbull, 0x3feedea64c123422ull, 0x3feece086061892dull,
    0x3feebfdad5362a27ull, 0x3feeb42b569d4f82ull, 0x3feeab07dd485429ull, 0x3feea47eb03a5585ull,
    0x3feea09e667f3bcdull, 0x3fee9f75e8ec5f74ull, 0x3feea11473eb0187ull, 0x3feea589994cce13ull,
    0x3feeace5422aa0dbull, 0x3feeb737b0cdc5e5ull, 0x3feec49182a3f090ull, 0x3feed503b23e255dull,
    0x3feee89f995ad3adull, 0x3feeff76f2fb5e47ull, 0x3fef199bdd85529cull, 0x3fef3720dcef9069ull,
    0x3fef5818dcfba487ull, 0x3fef7c97337b9b5full, 0x3fefa4afa2a490daull, 0x3fefd0765b6e4540ull,
};
constexpr float kOverflow = 0x1.62e42ep+6f;    // above: +inf
constexpr float kUnderflow = -0x1.9fe368p+6f;  // below: 0
constexpr float kTiny = -0x1.9d1d9ep+6f;       // below (and not under kUnderflow): 2^-149

}  // namespace nagare::expf_detail
