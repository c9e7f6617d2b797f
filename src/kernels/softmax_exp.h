// The exponential of kernels/ops.h's softmax_exp, in float arithmetic alone so that the SIMD
// versions (ops_x86.h, quant_neon.cc) compute it a whole vector at a time with the same
// operations as the scalar one (ops.cc), and so the same bits:
//   exp(x) = 2^n * p(r), n = round(x / ln 2), r = x - n ln 2 (in two fused steps, Cody and
//   Waite), p the degree-7 Taylor polynomial of exp by Horner's rule in fused multiply-adds
//   (its truncation error on |r| <= ln2 / 2 is below 5e-9, so the result is within about one
//   unit in the last place of exp).
// A softmax's inputs are x - max <= 0: below kMin (where 2^n would leave the normal range) the
// result is 0, which no sum of softmax weights can tell from the true exp(x) < 2^-126; above
// kMax, +inf; NaN stays NaN.
#pragma once

namespace nagare::softmax_exp_detail {

constexpr float kMin = -0x1.5d58ap+6f;  // ln 2^-126 rounded to float, about -87.3365
constexpr float kMax = 88.0f;             // n <= 127
constexpr float kLog2e = 0x1.715476p+0f;
constexpr float kRound = 0x1.8p+23f;  // x * log2(e) + kRound rounds to an integer (n + kRound)
constexpr float kLn2Hi = 0x1.62e4p-1f;  // ln 2 in 16 bits, so that n * kLn2Hi is exact
constexpr float kLn2Lo = 0x1.7f7d1cp-20f;
// 1/7!, 1/6!, ..., 1/1!, 1/0!: Horner's coefficients from the highest degree.
constexpr float kPoly[8] = {0x1.a01a02p-13f, 0x1.6c16c2p-10f, 0x1.111112p-7f, 0x1.555556p-5f,
                            0x1.555556p-3f,  0x1p-1f,        1.0f,           1.0f};

}  // namespace nagare::softmax_exp_detail
