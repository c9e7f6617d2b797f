// Per-ISA kernel tables: what kernels/quant.h and kernels/matmul.h call, chosen once per
// process by active_isa() (kernels/cpu_features.h). Tests may use any supported table directly.
#pragma once

#include "kernels/cpu_features.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"

namespace nagare {

constexpr int kTypeSlots = 48;  // covers every GgmlType id

struct KernelTable {
  Isa isa = Isa::kScalar;
  // Activation quantizers (F32, F16, BF16, Q8_0, Q8_1, Q8_K): byte-identical on every ISA.
  QuantizeRowFn quantize[kTypeSlots] = {};
  // Dot product of a weight row with an activation row (kernels/quant.h's vec_dot).
  VecDotFn vec_dot[kTypeSlots] = {};
  // Tile kernels over packed weights (kernels/gemm.h); nullptr where the ISA has none.
  GemmFn gemm[kTypeSlots] = {};

  QuantizeRowFn quantize_fn(GgmlType t) const { return slot(t) ? quantize[int(t)] : nullptr; }
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
// gemm_avx512.cc); each overwrites the entries it has.
void register_avx2_quant(KernelTable& k);
void register_avx2_gemm(KernelTable& k);
void register_avx512_quant(KernelTable& k);
void register_avx512_gemm(KernelTable& k);

}  // namespace nagare
