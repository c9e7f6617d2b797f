// Type dispatch for the quantized-format kernels, and the plain float formats F32/F16/BF16.
#include "kernels/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/ops.h"
#include "kernels/quant_ref.h"
#include "util/error.h"

namespace nagare {
namespace ref {

void dequantize_row_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
}

void quantize_row_f32(const float* src, void* dst, int64_t n) { std::memcpy(dst, src, size_t(n) * 4); }

void quantize_row_f16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
}

void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
}

// F32, F16 and BF16 weights against F32 activations: 8 lanes, lane l the fused multiply-adds
// of elements l, l + 8, l + 16, ... in order; then the lanes folded in halves (l plus l + 4, then
// + 2, + 1). Every ISA computes exactly these operations (kernels/gemm_float.h), as vectors hold
// the lanes, so a result depends on neither the ISA, the tile nor the batch.
template <float (*kLoad)(const void*, int64_t)>
float vec_dot_lanes(const void* w, const void* a, int64_t n) {
  const auto* y = static_cast<const float*>(a);
  float lane[8] = {};
  for (int64_t i = 0; i < n; ++i) lane[i % 8] = std::fma(kLoad(w, i), y[i], lane[i % 8]);
  for (int h = 4; h >= 1; h /= 2)
    for (int l = 0; l < h; ++l) lane[l] += lane[l + h];
  return lane[0];
}

float load_f32(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
float load_f16(const void* p, int64_t i) { return fp16_to_fp32(static_cast<const uint16_t*>(p)[i]); }
float load_bf16(const void* p, int64_t i) { return bf16_to_fp32(static_cast<const uint16_t*>(p)[i]); }

float vec_dot_f32(const void* w, const void* a, int64_t n) { return vec_dot_lanes<load_f32>(w, a, n); }
float vec_dot_f16(const void* w, const void* a, int64_t n) { return vec_dot_lanes<load_f16>(w, a, n); }
float vec_dot_bf16(const void* w, const void* a, int64_t n) { return vec_dot_lanes<load_bf16>(w, a, n); }

}  // namespace ref

bool is_supported_weight_type(GgmlType type) { return vec_dot_fn(type) != nullptr; }

int64_t block_elements(GgmlType type) {
  auto info = ggml_type_info(static_cast<uint32_t>(type));
  return info ? info->block_elements : 0;
}

size_t row_bytes(GgmlType type, int64_t n) {
  auto info = ggml_type_info(static_cast<uint32_t>(type));
  if (!info) throw Error("row_bytes: unknown tensor type " + std::to_string(uint32_t(type)));
  return size_t(n / info->block_elements) * info->block_bytes;
}

GgmlType activation_type_for(GgmlType weight_type) {
  switch (weight_type) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
    case GgmlType::IQ4_NL:
    case GgmlType::MXFP4: return GgmlType::Q8_0;
    case GgmlType::Q4_1:
    case GgmlType::Q5_1: return GgmlType::Q8_1;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
    case GgmlType::IQ4_XS: return GgmlType::Q8_K;
    default: return GgmlType::F32;  // F32, F16, BF16: the activations as they are
  }
}

DequantizeRowFn dequantize_row_fn(GgmlType type) {
  switch (type) {
    case GgmlType::F32: return ref::dequantize_row_f32;
    case GgmlType::F16: return ref::dequantize_row_f16;
    case GgmlType::BF16: return ref::dequantize_row_bf16;
    case GgmlType::Q4_0: return ref::dequantize_row_q4_0;
    case GgmlType::Q4_1: return ref::dequantize_row_q4_1;
    case GgmlType::Q5_0: return ref::dequantize_row_q5_0;
    case GgmlType::Q5_1: return ref::dequantize_row_q5_1;
    case GgmlType::Q8_0: return ref::dequantize_row_q8_0;
    case GgmlType::Q8_1: return ref::dequantize_row_q8_1;
    case GgmlType::Q4_K: return ref::dequantize_row_q4_k;
    case GgmlType::Q5_K: return ref::dequantize_row_q5_k;
    case GgmlType::Q6_K: return ref::dequantize_row_q6_k;
    case GgmlType::Q8_K: return ref::dequantize_row_q8_k;
    case GgmlType::IQ4_NL: return ref::dequantize_row_iq4_nl;
    case GgmlType::IQ4_XS: return ref::dequantize_row_iq4_xs;
    case GgmlType::Q2_K: return ref::dequantize_row_q2_k;
    case GgmlType::Q3_K: return ref::dequantize_row_q3_k;
    case GgmlType::MXFP4: return ref::dequantize_row_mxfp4;
    default: return nullptr;
  }
}

QuantizeRowFn quantize_row_fn(GgmlType type) {
  // Activation formats go to the active ISA's quantizers (byte-identical to the reference).
  if (QuantizeRowFn fn = active_kernels().quantize_fn(type)) return fn;
  switch (type) {
    case GgmlType::Q4_0: return ref::quantize_row_q4_0;
    case GgmlType::Q4_1: return ref::quantize_row_q4_1;
    case GgmlType::Q5_0: return ref::quantize_row_q5_0;
    case GgmlType::Q5_1: return ref::quantize_row_q5_1;
    case GgmlType::Q4_K: return ref::quantize_row_q4_k;
    case GgmlType::Q5_K: return ref::quantize_row_q5_k;
    case GgmlType::Q6_K: return ref::quantize_row_q6_k;
    case GgmlType::IQ4_NL: return ref::quantize_row_iq4_nl;
    case GgmlType::IQ4_XS: return ref::quantize_row_iq4_xs;
    case GgmlType::Q2_K: return ref::quantize_row_q2_k;
    case GgmlType::Q3_K: return ref::quantize_row_q3_k;
    case GgmlType::MXFP4: return ref::quantize_row_mxfp4;
    default: return nullptr;
  }
}

VecDotFn vec_dot_fn(GgmlType weight_type) { return active_kernels().vec_dot_fn(weight_type); }

bool can_quantize(GgmlType type) { return quantize_row_fn(type) != nullptr; }

namespace {

// Resolves the kernel or throws: the checks a public entry point makes before calling it.
template <typename Fn>
Fn checked(Fn fn, const char* what, GgmlType type, int64_t n) {
  if (fn == nullptr) throw Error(std::string(what) + ": unsupported tensor type " + std::string(ggml_type_name(type)));
  const int64_t block = block_elements(type);
  if (n < 0 || n % block != 0)
    throw Error(std::string(what) + ": " + std::to_string(n) + " elements is not a whole number of " +
                std::string(ggml_type_name(type)) + " blocks of " + std::to_string(block));
  return fn;
}

}  // namespace

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  checked(dequantize_row_fn(type), "dequantize_row", type, n)(src, dst, n);
}

void quantize_row(GgmlType act_type, const float* src, void* dst, int64_t n) {
  checked(quantize_row_fn(act_type), "quantize_row", act_type, n)(src, dst, n);
}

float vec_dot(GgmlType weight_type, const void* w_row, const void* act_row, int64_t n) {
  return checked(vec_dot_fn(weight_type), "vec_dot", weight_type, n)(w_row, act_row, n);
}

void attention_scores_quantized(GgmlType type, const void* keys, int64_t key_stride, int64_t n_keys, const void* q,
                                int64_t q_stride, int64_t n_q, int64_t n, float scale, float* out, int64_t out_stride) {
  static const KernelTable& kernels = active_kernels();
  if (uint32_t(type) < uint32_t(kTypeSlots))
    if (const AttentionScoresFn fn = kernels.attention_scores[int(type)])
      return fn(keys, key_stride, n_keys, q, q_stride, n_q, n, scale, out, out_stride);
  const VecDotFn dot = checked(vec_dot_fn(type), "attention_scores_quantized", type, n);
  const auto* k = static_cast<const uint8_t*>(keys);
  const auto* qb = static_cast<const uint8_t*>(q);
  for (int64_t i = 0; i < n_keys; ++i)
    for (int64_t j = 0; j < n_q; ++j) out[j * out_stride + i] = dot(k + i * key_stride, qb + j * q_stride, n) * scale;
}

void attention_values_quantized(GgmlType type, float* out, int64_t out_stride, const float* w, int64_t w_stride,
                                int64_t n_heads, const void* v, int64_t v_stride, int64_t n_rows, int64_t n) {
  static const KernelTable& kernels = active_kernels();
  if (uint32_t(type) < uint32_t(kTypeSlots))
    if (const AttentionValuesFn fn = kernels.attention_values[int(type)])
      return fn(out, out_stride, w, w_stride, n_heads, v, v_stride, n_rows, n);
  const DequantizeRowFn dequantize = checked(dequantize_row_fn(type), "attention_values_quantized", type, n);
  constexpr int64_t kChunk = 512;  // elements of a row dequantized at once (whole blocks), for all heads
  float part[kChunk];
  const auto* vb = static_cast<const uint8_t*>(v);
  for (int64_t i = 0; i < n_rows; ++i)
    for (int64_t e = 0; e < n; e += kChunk) {
      const int64_t len = std::min(kChunk, n - e);
      dequantize(vb + i * v_stride + row_bytes(type, e), part, len);
      for (int64_t h = 0; h < n_heads; ++h) axpy_f32(out + h * out_stride + e, w[h * w_stride + i], part, len);
    }
}

}  // namespace nagare
