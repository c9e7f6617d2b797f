#include "kernels/ops.h"

// Keep a * b + c two roundings, as the SIMD versions (kernels/ops_x86.h) compute them.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "kernels/dispatch.h"
#include "kernels/expf_table.h"
#include "kernels/softmax_exp.h"
#include "kernels/fp16.h"
#include "kernels/ops_ref.h"

namespace nagare {

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) { rms_norm_rows(x, weight, y, 1, n, eps); }

Rope::Rope(int32_t rot_dims, float freq_base, float freq_scale, RopeStyle style, const float* freq_factors, YarnParams yarn)
    : rot_dims_(rot_dims), freq_base_(freq_base), freq_scale_(freq_scale), style_(style), freq_factors_(freq_factors),
      yarn_(yarn) {}

void Rope::angles(int32_t pos, float* cos_out, float* sin_out) const {
  // theta_i = pos * scale * base^(-2i/d), built by repeated multiplication in float as ggml does,
  // so angles agree with llama.cpp to the last bit in the common case.
  const float theta_scale = std::pow(freq_base_, -2.0f / float(rot_dims_));
  if (yarn_.ext_factor != 0.f) {
    // ggml's rope_yarn: each pair's angle blends the interpolated (scaled) and the extrapolated
    // one by a ramp over the pair index, and cos/sin carry the magnitude correction.
    const float mscale = yarn_.mscale * (1.0f + 0.1f * std::log(1.0f / freq_scale_));
    float theta_base = float(pos);
    for (int32_t i = 0; i < half_dims(); ++i) {
      const float extrap = freq_factors_ ? theta_base / freq_factors_[i] : theta_base;
      const float interp = freq_scale_ * extrap;
      const float y = (float(i) - yarn_.corr_low) / std::max(0.001f, yarn_.corr_high - yarn_.corr_low);
      const float ramp = (1 - std::min(1.0f, std::max(0.0f, y))) * yarn_.ext_factor;
      const float theta = interp * (1 - ramp) + extrap * ramp;
      cos_out[i] = std::cos(theta) * mscale;
      sin_out[i] = std::sin(theta) * mscale;
      theta_base *= theta_scale;
    }
    return;
  }
  float theta = float(pos) * freq_scale_;
  for (int32_t i = 0; i < half_dims(); ++i) {
    const float angle = freq_factors_ ? theta / freq_factors_[i] : theta;
    cos_out[i] = std::cos(angle);
    sin_out[i] = std::sin(angle);
    theta *= theta_scale;
  }
}

void Rope::rotate(float* x, int32_t n_heads, int32_t head_dim, const float* cos_in, const float* sin_in) const {
  const int32_t half = half_dims();
  // One loop per style, each with fixed strides, so the compiler vectorizes it (a choice of
  // index inside the loop kept it scalar).
  for (int32_t h = 0; h < n_heads; ++h) {
    float* v = x + int64_t(h) * head_dim;
    if (style_ == RopeStyle::kNorm) {  // pairs (2i, 2i + 1)
      for (int32_t i = 0; i < half; ++i) {
        const float x0 = v[2 * i], x1 = v[2 * i + 1], c = cos_in[i], s = sin_in[i];
        v[2 * i] = x0 * c - x1 * s;
        v[2 * i + 1] = x0 * s + x1 * c;
      }
    } else {  // pairs (i, i + half)
      float* w = v + half;
      for (int32_t i = 0; i < half; ++i) {
        const float x0 = v[i], x1 = w[i], c = cos_in[i], s = sin_in[i];
        v[i] = x0 * c - x1 * s;
        w[i] = x0 * s + x1 * c;
      }
    }
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  static const auto fn = active_kernels().silu_mul;
  fn(gate, up, out, n);
}

namespace {
float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoef = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoef * x * x)));
}

// GELU of every half-precision input, stored as half: ggml evaluates GELU through exactly this
// table, so using it too keeps gemma's activations bit-compatible with the reference.
struct GeluTable {
  uint16_t values[65536 + 2] = {};  // 2 bytes of padding for the SIMD version's 32-bit gather
  GeluTable() {
    for (uint32_t i = 0; i < 65536; ++i) values[i] = fp32_to_fp16(gelu_tanh(fp16_to_fp32(uint16_t(i))));
  }
};
}  // namespace

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  static const GeluTable table;
  static const auto fn = active_kernels().gelu_table_mul;
  fn(table.values, gate, up, out, n);
}

void gelu(const float* x, float* y, int64_t n) {
  // gelu_tanh_mul's GELU times ones (g * 1 is g), a chunk of ones at a time: the ISA's table
  // lookup, ends of the range included.
  constexpr int64_t kChunk = 256;
  static const std::array<float, kChunk> ones = [] {
    std::array<float, kChunk> a;
    a.fill(1.0f);
    return a;
  }();
  for (int64_t c = 0; c < n; c += kChunk) gelu_tanh_mul(x + c, ones.data(), y + c, std::min(kChunk, n - c));
}

void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = float(sum / double(n));
  double sum2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - mean;
    y[i] = d;
    sum2 += double(d) * d;
  }
  const float scale = 1.0f / std::sqrt(float(sum2 / double(n)) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] * scale * weight[i] + (bias ? bias[i] : 0.0f);
}

void add_in_place(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void scale_in_place(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void blend_in_place(float* x, float a, const float* y, float b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * a + y[i] * b;
}

void soft_cap(float* x, float cap, int64_t n) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

// ---- scalar definitions (nagare::ref, kernels/ops_ref.h) and their dispatch ----

namespace ref {

namespace {
template <int kRows>
void sums_of_squares(const float* x, int64_t n, double* sums) {
  // The rows' sums run side by side: each is the same sequential double sum as one row alone,
  // but the additions of different rows overlap instead of waiting on each other.
  double sum[kRows] = {};
  for (int64_t i = 0; i < n; ++i)
    for (int r = 0; r < kRows; ++r) sum[r] += double(x[r * n + i]) * double(x[r * n + i]);
  for (int r = 0; r < kRows; ++r) sums[r] = sum[r];
}
}  // namespace

void rms_norm_sums(const float* x, int64_t n_rows, int64_t n, double* sums) {
  // double: the mean of squares is a long reduction; ggml accumulates in double too. Eight sums
  // side by side keep both double-precision adders busy (an add takes three to four cycles).
  int64_t r = 0;
  for (; r + 8 <= n_rows; r += 8) sums_of_squares<8>(x + r * n, n, sums + r);
  for (; r + 4 <= n_rows; r += 4) sums_of_squares<4>(x + r * n, n, sums + r);
  for (; r < n_rows; ++r) sums_of_squares<1>(x + r * n, n, sums + r);
}

void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) {
  rms_norm_rows_with(x, y, n_rows, n, eps, [&](const float* xr, float* yr, float scale) {
    if (weight) {
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale * weight[i];
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale;
    }
  });
}
namespace {

// b_at(i): element i of the second operand as a float. Fused: each product added by one fused
// multiply-add (attention's half-precision dots, the hot loop of long contexts), else a product
// rounded and then added.
template <bool Fused, typename At>
float dot_lanes(const float* a, int64_t n, At b_at) {
  auto mac = [](float x, float y, float acc) { return Fused ? std::fma(x, y, acc) : acc + x * y; };
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] = mac(a[i + j], b_at(i + j), acc[j]);
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum = mac(a[i], b_at(i), sum);
  return sum;
}

}  // namespace

// expf as glibc computes it on FMA machines (kernels/expf_table.h); exp4 in ops_x86.h is its
// vector twin, operation for operation.
float exp_glibc(float x) {
  using namespace expf_detail;
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (((u >> 20) & 0x7ff) > 0x42a) {  // |x| >= 88, inf or NaN
    if (u == 0xff800000u) return 0.0f;
    if (((u >> 20) & 0x7ff) >= 0x7f8) return x + x;
    if (x > kOverflow) return INFINITY;
    if (x < kUnderflow) return 0.0f;
    if (x < kTiny) return 0x1p-149f;
  }
  const double xd = x;
  const double z = std::fma(kInvLn2N, xd, kShift);
  uint64_t ki;
  std::memcpy(&ki, &z, 8);
  const double kd = z - kShift;
  const double r = std::fma(kInvLn2N, xd, -kd);
  const uint64_t t = kTable[ki % 32] + (ki << 47);
  double s;
  std::memcpy(&s, &t, 8);
  const double p = std::fma(kC0, r, kC1);
  const double r2 = r * r;
  double y = std::fma(kC2, r, 1.0);
  y = std::fma(p, r2, y);
  return float(y * s);
}

void fp16_to_fp32_row(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}

void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

float dot_f32(const float* a, const float* b, int64_t n) {
  return dot_lanes<false>(a, n, [&](int64_t i) { return b[i]; });
}

float dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
  return dot_lanes<true>(a, n, [&](int64_t i) { return fp16_to_fp32(b[i]); });
}

void axpy_f16(float* y, float w, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(w, fp16_to_fp32(x[i]), y[i]);
}

void axpy_f32(float* y, float w, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(w, x[i], y[i]);
}

namespace {

inline float to_float(uint16_t h) { return fp16_to_fp32(h); }
inline float to_float(float f) { return f; }

void axpy(float* y, float w, const uint16_t* x, int64_t n) { axpy_f16(y, w, x, n); }
void axpy(float* y, float w, const float* x, int64_t n) { axpy_f32(y, w, x, n); }

// The single-row calls, by definition.
template <typename T>
void axpy_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads, const RowRun<T>* runs,
               int64_t n_runs, int64_t v_stride, int64_t n) {
  for (int64_t h = 0; h < n_heads; ++h) {
    int64_t i = 0;
    for (int64_t j = 0; j < n_runs; ++j)
      for (int64_t r = 0; r < runs[j].count; ++r, ++i) axpy(out + h * out_stride, w[h * w_stride + i], runs[j].rows + r * v_stride, n);
  }
}

template <typename T>
void key_groups(const float* q, int64_t n_q, int64_t q_stride, const T* const* groups, int64_t n_groups, int64_t stride,
                int64_t n, float scale, float* out, int64_t out_stride) {
  for (int64_t j = 0; j < n_q; ++j)
    for (int64_t g = 0; g < n_groups; ++g)
      for (int l = 0; l < 8; ++l) {
        float s = 0.0f;
        for (int64_t e = 0; e < n; ++e) s = std::fma(q[j * q_stride + e], to_float(groups[g][e * stride + l]), s);
        out[j * out_stride + 8 * g + l] = s * scale;
      }
}

}  // namespace

void axpy_f16_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                   const RowRun<uint16_t>* runs, int64_t n_runs, int64_t v_stride, int64_t n) {
  axpy_rows(out, out_stride, w, w_stride, n_heads, runs, n_runs, v_stride, n);
}

void axpy_f32_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                   const RowRun<float>* runs, int64_t n_runs, int64_t v_stride, int64_t n) {
  axpy_rows(out, out_stride, w, w_stride, n_heads, runs, n_runs, v_stride, n);
}

void dot_f32_f16_key_groups(const float* q, int64_t n_q, int64_t q_stride, const uint16_t* const* groups, int64_t n_groups,
                            int64_t stride, int64_t n, float scale, float* out, int64_t out_stride) {
  key_groups(q, n_q, q_stride, groups, n_groups, stride, n, scale, out, out_stride);
}

void dot_f32_key_groups(const float* q, int64_t n_q, int64_t q_stride, const float* const* groups, int64_t n_groups,
                        int64_t stride, int64_t n, float scale, float* out, int64_t out_stride) {
  key_groups(q, n_q, q_stride, groups, n_groups, stride, n, scale, out, out_stride);
}

float max_f32(const float* x, int64_t n, float init) {
  float m = init;
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

float exp_softmax(float x) {
  using namespace softmax_exp_detail;
  if (x != x) return x;
  if (x < kMin) return 0.0f;
  if (x > kMax) return INFINITY;
  const float n = std::fma(x, kLog2e, kRound) - kRound;
  const float r = std::fma(n, -kLn2Lo, std::fma(n, -kLn2Hi, x));
  float p = kPoly[0];
  for (int k = 1; k < 8; ++k) p = std::fma(p, r, kPoly[k]);
  const uint32_t bits = uint32_t(int32_t(n) + 127) << 23;  // 2^n
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

float softmax_exp(float* x, float max, int64_t n) {
  float lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] += x[i + j] = exp_softmax(x[i + j] - max);
  float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; i < n; ++i) sum += x[i] = exp_softmax(x[i] - max);
  return sum;
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + exp_glibc(-gate[i])) * up[i];
}

void scale_round_fp16(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = fp16_to_fp32(fp32_to_fp16(x[i] * s));
}

void gelu_table_mul(const uint16_t* table, const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    float g;
    if (x <= -10.0f) g = 0.0f;
    else if (x >= 10.0f) g = x;
    else g = fp16_to_fp32(table[fp32_to_fp16(x)]);
    out[i] = g * up[i];
  }
}

}  // namespace ref

// The active ISA's kernel, looked up once.
#define NAGARE_OP(name) static const auto fn = active_kernels().name

void fp16_to_fp32_row(const uint16_t* src, float* dst, int64_t n) {
  NAGARE_OP(fp16_to_fp32);
  fn(src, dst, n);
}

void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n) {
  NAGARE_OP(fp32_to_fp16);
  fn(src, dst, n);
}

float dot_f32(const float* a, const float* b, int64_t n) {
  NAGARE_OP(dot_f32);
  return fn(a, b, n);
}

float dot_f32_f16(const float* a, const uint16_t* b, int64_t n) {
  NAGARE_OP(dot_f32_f16);
  return fn(a, b, n);
}

void axpy_f16(float* y, float w, const uint16_t* x, int64_t n) {
  NAGARE_OP(axpy_f16);
  fn(y, w, x, n);
}

void axpy_f32(float* y, float w, const float* x, int64_t n) {
  NAGARE_OP(axpy_f32);
  fn(y, w, x, n);
}

void axpy_f16_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                   const RowRun<uint16_t>* runs, int64_t n_runs, int64_t v_stride, int64_t n) {
  NAGARE_OP(axpy_f16_rows);
  fn(out, out_stride, w, w_stride, n_heads, runs, n_runs, v_stride, n);
}

void axpy_f32_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                   const RowRun<float>* runs, int64_t n_runs, int64_t v_stride, int64_t n) {
  NAGARE_OP(axpy_f32_rows);
  fn(out, out_stride, w, w_stride, n_heads, runs, n_runs, v_stride, n);
}

void dot_f32_f16_key_groups(const float* q, int64_t n_q, int64_t q_stride, const uint16_t* const* groups, int64_t n_groups,
                            int64_t stride, int64_t n, float scale, float* out, int64_t out_stride) {
  NAGARE_OP(dot_f32_f16_key_groups);
  fn(q, n_q, q_stride, groups, n_groups, stride, n, scale, out, out_stride);
}

void dot_f32_key_groups(const float* q, int64_t n_q, int64_t q_stride, const float* const* groups, int64_t n_groups,
                        int64_t stride, int64_t n, float scale, float* out, int64_t out_stride) {
  NAGARE_OP(dot_f32_key_groups);
  fn(q, n_q, q_stride, groups, n_groups, stride, n, scale, out, out_stride);
}

void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) {
  NAGARE_OP(rms_norm_rows);
  fn(x, weight, y, n_rows, n, eps);
}

float max_f32(const float* x, int64_t n, float init) {
  NAGARE_OP(max_f32);
  return fn(x, n, init);
}

float softmax_exp(float* x, float max, int64_t n) {
  NAGARE_OP(softmax_exp);
  return fn(x, max, n);
}

void scale_round_fp16(float* x, float s, int64_t n) {
  NAGARE_OP(scale_round_fp16);
  fn(x, s, n);
}

#undef NAGARE_OP

}  // namespace nagare
