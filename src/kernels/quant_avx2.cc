// AVX2 (+FMA, F16C) raw-layout kernels: activation quantizers and vec_dot, pmaddubsw dots.
// Built with -mavx2 -mfma -mf16c (CMakeLists.txt); only called where the CPU has them.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/dispatch.h"
#include "kernels/expf_table.h"
#include "kernels/softmax_exp.h"
#include "kernels/ops_ref.h"
#include "kernels/quant_blocks.h"

namespace nagare {
namespace {

#include "kernels/quant_x86.h"
#include "kernels/quant_x86_iq.h"
#include "kernels/quant_x86_low.h"
#include "kernels/ops_x86.h"

}  // namespace

void register_avx2_quant(KernelTable& k) {
  register_quant(k);
  register_quant_iq(k);
  register_quant_low(k);
  register_ops(k);
}

}  // namespace nagare
#endif
