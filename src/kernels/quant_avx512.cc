// AVX-512 (F, BW, VL, VNNI) raw-layout kernels: the code of quant_x86.h with VNNI vpdpbusd dots
// and EVEX encodings. Built with -mavx512* (CMakeLists.txt); only called where the CPU has them.
#if defined(__x86_64__)
// GCC 12 warns about the deliberately undefined source of AVX-512 intrinsics such as
// _mm512_cvtph_ps once inlined (GCC bug 105593); the values are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
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

void register_avx512_quant(KernelTable& k) {
  register_quant(k);
  register_quant_iq(k);
  register_quant_low(k);
  register_ops(k);
}

}  // namespace nagare
#endif
