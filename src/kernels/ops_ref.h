// Scalar definitions of the dispatched row operations of kernels/ops.h (ops.cc): the scalar
// ISA's kernels, and what the SIMD versions (kernels/ops_x86.h) must equal bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/ops.h"

namespace nagare::ref {

void fp16_to_fp32_row(const uint16_t* src, float* dst, int64_t n);
void fp32_to_fp16_row(const float* src, uint16_t* dst, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
float dot_f32_f16(const float* a, const uint16_t* b, int64_t n);
void axpy_f16(float* y, float w, const uint16_t* x, int64_t n);
void axpy_f32(float* y, float w, const float* x, int64_t n);
void axpy_f16_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                   const RowRun<uint16_t>* runs, int64_t n_runs, int64_t v_stride, int64_t n);
void axpy_f32_rows(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                   const RowRun<float>* runs, int64_t n_runs, int64_t v_stride, int64_t n);
void dot_f32_f16_key_groups(const float* q, int64_t n_q, int64_t q_stride, const uint16_t* const* groups, int64_t n_groups,
                            int64_t stride, int64_t n, float scale, float* out, int64_t out_stride);
void dot_f32_key_groups(const float* q, int64_t n_q, int64_t q_stride, const float* const* groups, int64_t n_groups,
                        int64_t stride, int64_t n, float scale, float* out, int64_t out_stride);
float max_f32(const float* x, int64_t n, float init);
float softmax_exp(float* x, float max, int64_t n);
float exp_softmax(float x);  // one exponential of softmax_exp (kernels/softmax_exp.h)
float exp_glibc(float x);    // glibc's expf, silu_mul's exponential (kernels/expf_table.h)
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
void scale_round_fp16(float* x, float s, int64_t n);
// rms_norm_rows of kernels/ops.h. Its parts, for the SIMD versions: each row's sum of squares
// (a sequential double sum, several rows side by side) and the scale that sum gives; the row is
// then y[i] = x[i] * scale * weight[i] (or x[i] * scale without weights).
void rms_norm_rows(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps);
void rms_norm_sums(const float* x, int64_t n_rows, int64_t n, double* sums);
// The row loop both share: scale_row(x_row, y_row, scale) writes one row.
template <typename ScaleRow>
void rms_norm_rows_with(const float* x, float* y, int64_t n_rows, int64_t n, float eps, ScaleRow scale_row) {
  constexpr int64_t kMaxRows = 16;  // rows per rms_norm_sums call
  for (int64_t r0 = 0; r0 < n_rows; r0 += kMaxRows) {
    const int64_t rows = n_rows - r0 < kMaxRows ? n_rows - r0 : kMaxRows;
    double sums[kMaxRows];
    rms_norm_sums(x + r0 * n, rows, n, sums);
    for (int64_t r = 0; r < rows; ++r)
      scale_row(x + (r0 + r) * n, y + (r0 + r) * n, 1.0f / std::sqrt(float(sums[r] / double(n)) + eps));
  }
}
// out[i] = g * up[i] with g = 0 for gate <= -10, gate for gate >= 10, else the half-precision
// `table` entry of the gate rounded to half (ops.cc's GELU table).
void gelu_table_mul(const uint16_t* table, const float* gate, const float* up, float* out, int64_t n);

}  // namespace nagare::ref
