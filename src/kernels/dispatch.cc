#include "kernels/dispatch.h"

#include "kernels/ops_ref.h"
#include "kernels/quant_ref.h"

namespace nagare {
namespace {

KernelTable scalar_table() {
  KernelTable k;
  k.isa = Isa::kScalar;
  auto set = [&](GgmlType t, QuantizeRowFn q, VecDotFn d) {
    if (q) k.quantize[int(t)] = q;
    if (d) k.vec_dot[int(t)] = d;
  };
  set(GgmlType::F32, ref::quantize_row_f32, ref::vec_dot_f32);
  set(GgmlType::F16, ref::quantize_row_f16, ref::vec_dot_f16);
  set(GgmlType::BF16, ref::quantize_row_bf16, ref::vec_dot_bf16);
  set(GgmlType::Q8_0, ref::quantize_row_q8_0, ref::vec_dot_q8_0_q8_0);
  set(GgmlType::Q8_1, ref::quantize_row_q8_1, nullptr);
  set(GgmlType::Q8_K, ref::quantize_row_q8_k, nullptr);
  set(GgmlType::Q4_0, nullptr, ref::vec_dot_q4_0_q8_0);
  set(GgmlType::Q4_1, nullptr, ref::vec_dot_q4_1_q8_1);
  set(GgmlType::Q5_0, nullptr, ref::vec_dot_q5_0_q8_0);
  set(GgmlType::Q5_1, nullptr, ref::vec_dot_q5_1_q8_1);
  set(GgmlType::Q4_K, nullptr, ref::vec_dot_q4_k_q8_k);
  set(GgmlType::Q5_K, nullptr, ref::vec_dot_q5_k_q8_k);
  set(GgmlType::Q6_K, nullptr, ref::vec_dot_q6_k_q8_k);
  set(GgmlType::IQ4_NL, nullptr, ref::vec_dot_iq4_nl_q8_0);
  set(GgmlType::IQ4_XS, nullptr, ref::vec_dot_iq4_xs_q8_k);
  set(GgmlType::Q2_K, nullptr, ref::vec_dot_q2_k_q8_k);
  set(GgmlType::Q3_K, nullptr, ref::vec_dot_q3_k_q8_k);
  set(GgmlType::MXFP4, nullptr, ref::vec_dot_mxfp4_q8_0);
  k.dot_f32 = ref::dot_f32;
  k.dot_f32_f16 = ref::dot_f32_f16;
  k.axpy_f16 = ref::axpy_f16;
  k.axpy_f32 = ref::axpy_f32;
  k.axpy_f32_rows = ref::axpy_f32_rows;
  k.axpy_f16_rows = ref::axpy_f16_rows;
  k.dot_f32_f16_key_groups = ref::dot_f32_f16_key_groups;
  k.dot_f32_key_groups = ref::dot_f32_key_groups;
  k.max_f32 = ref::max_f32;
  k.softmax_exp = ref::softmax_exp;
  k.rms_norm_rows = ref::rms_norm_rows;
  k.silu_mul = ref::silu_mul;
  k.scale_round_fp16 = ref::scale_round_fp16;
  k.fp16_to_fp32 = ref::fp16_to_fp32_row;
  k.fp32_to_fp16 = ref::fp32_to_fp16_row;
  k.gelu_table_mul = ref::gelu_table_mul;
  return k;
}

struct Tables {
  KernelTable t[kIsaCount];
  bool ok[kIsaCount] = {};
  Tables() {
    t[0] = scalar_table();
    ok[0] = true;
#if defined(__x86_64__)
    if (isa_supported(Isa::kAvx2)) {
      t[1] = t[0];
      t[1].isa = Isa::kAvx2;
      register_avx2_quant(t[1]);
      register_avx2_gemm(t[1]);
      ok[1] = true;
    }
    if (isa_supported(Isa::kAvx512)) {
      t[2] = t[1];
      t[2].isa = Isa::kAvx512;
      register_avx512_quant(t[2]);
      register_avx512_gemm(t[2]);
      ok[2] = true;
    }
#endif
#if defined(__aarch64__)
    constexpr int kN = int(Isa::kNeon);
    if (isa_supported(Isa::kNeon)) {
      t[kN] = t[0];
      t[kN].isa = Isa::kNeon;
      register_neon_quant(t[kN]);
      register_neon_gemm(t[kN]);
      ok[kN] = true;
    }
#endif
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const KernelTable* kernel_table(Isa isa) {
  const Tables& t = tables();
  return t.ok[int(isa)] ? &t.t[int(isa)] : nullptr;
}

const KernelTable& active_kernels() {
  static const KernelTable& k = *kernel_table(active_isa());
  return k;
}

}  // namespace nagare
