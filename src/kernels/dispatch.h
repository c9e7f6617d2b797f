// Per-ISA kernel tables: what kernels/quant.h and kernels/matmul.h call, chosen once per
// process by active_isa() (kernels/cpu_features.h). Tests may use any supported table directly.
#pragma once

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "kernels/quant.h"

namespace nagare {

constexpr int kTypeSlots = 48;  // covers every GgmlType id

struct KernelTable {
  Isa isa = Isa::kScalar;
  // Activation quantizers (F32, F16, BF16, Q8_0, Q8_1, Q8_K): byte-identical on every ISA.
  QuantizeRowFn quantize[kTypeSlots] = {};
  // The same with the tile kernels' side data in one pass, where an ISA has it (else nullptr:
  // quantize, then compute_act_extras).
  QuantizeActFn quantize_act[kTypeSlots] = {};
  // Dot product of a weight row with an activation row (kernels/quant.h's vec_dot).
  VecDotFn vec_dot[kTypeSlots] = {};
  // Tile kernels over packed weights (kernels/gemm.h); nullptr where the ISA has none.
  GemmFn gemm[kTypeSlots] = {};
  // Attention over a quantized KV cache (kernels/quant.h attention_scores_quantized and
  // attention_values_quantized), per key or value type; nullptr where the ISA has none for a
  // type (the per-row calls are taken).
  AttentionScoresFn attention_scores[kTypeSlots] = {};
  AttentionValuesFn attention_values[kTypeSlots] = {};

  // Float row operations behind kernels/ops.h; every ISA computes the same bits as the scalar
  // definitions (kernels/ops_ref.h).
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  float (*dot_f32_f16)(const float* a, const uint16_t* b, int64_t n) = nullptr;
  void (*axpy_f16)(float* y, float w, const uint16_t* x, int64_t n) = nullptr;
  void (*axpy_f32)(float* y, float w, const float* x, int64_t n) = nullptr;
  void (*axpy_f16_rows)(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                        const RowRun<uint16_t>* runs, int64_t n_runs, int64_t v_stride, int64_t n) = nullptr;
  void (*axpy_f32_rows)(float* out, int64_t out_stride, const float* w, int64_t w_stride, int64_t n_heads,
                        const RowRun<float>* runs, int64_t n_runs, int64_t v_stride, int64_t n) = nullptr;
  void (*dot_f32_f16_key_groups)(const float* q, int64_t n_q, int64_t q_stride, const uint16_t* const* groups,
                                 int64_t n_groups, int64_t stride, int64_t n, float scale, float* out,
                                 int64_t out_stride) = nullptr;
  void (*dot_f32_key_groups)(const float* q, int64_t n_q, int64_t q_stride, const float* const* groups, int64_t n_groups,
                             int64_t stride, int64_t n, float scale, float* out, int64_t out_stride) = nullptr;
  float (*max_f32)(const float* x, int64_t n, float init) = nullptr;
  float (*softmax_exp)(float* x, float max, int64_t n) = nullptr;
  void (*rms_norm_rows)(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) = nullptr;
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  void (*scale_round_fp16)(float* x, float s, int64_t n) = nullptr;
  void (*fp16_to_fp32)(const uint16_t* src, float* dst, int64_t n) = nullptr;
  void (*fp32_to_fp16)(const float* src, uint16_t* dst, int64_t n) = nullptr;
  void (*gelu_table_mul)(const uint16_t* table, const float* gate, const float* up, float* out, int64_t n) = nullptr;

  QuantizeRowFn quantize_fn(GgmlType t) const { return slot(t) ? quantize[int(t)] : nullptr; }
  QuantizeActFn quantize_act_fn(GgmlType t) const { return slot(t) ? quantize_act[int(t)] : nullptr; }
  VecDotFn vec_dot_fn(GgmlType t) const { return slot(t) ? vec_dot[int(t)] : nullptr; }
  GemmFn gemm_fn(GgmlType t) const { return slot(t) ? gemm[int(t)] : nullptr; }

 private:
  static bool slot(GgmlType t) { return uint32_t(t) < uint32_t(kTypeSlots); }
};

// The table of `isa`, or nullptr when this CPU cannot run it.
const KernelTable* kernel_table(Isa isa);
// The table of active_isa().
const KernelTable& active_kernels();

// Implemented by the ISA translation units (quant_avx2.cc, gemm_avx2.cc, quant_avx512.cc,
// gemm_avx512.cc on x86-64; quant_neon.cc, gemm_neon.cc on AArch64); each overwrites the
// entries it has.
void register_avx2_quant(KernelTable& k);
void register_avx2_gemm(KernelTable& k);
void register_avx512_quant(KernelTable& k);
void register_avx512_gemm(KernelTable& k);
void register_neon_quant(KernelTable& k);
void register_neon_gemm(KernelTable& k);

}  // namespace nagare
