// Which x86 SIMD extensions this CPU (and OS) offers, and the kernel tier ("ISA") the process
// runs: the best one available, or a lower one named by the environment variable
// NAGARE_ISA=scalar|avx2|avx512 (so tests and benchmarks can exercise every path).
#pragma once

#include <optional>
#include <string_view>

namespace nagare {

// Kernel tiers, lowest first. kAvx2 needs AVX2 + FMA + F16C; kAvx512 needs AVX-512 F, BW, VL
// and VNNI (Ice Lake, Zen 4 and later) on top of that.
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
inline constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  bool os_ymm = false, os_zmm = false;  // the OS saves the wider registers (XCR0)
};

const CpuFeatures& cpu_features();  // read once with cpuid/xgetbv
bool isa_supported(Isa isa);        // whether this machine can run the tier
Isa best_isa();                     // the highest supported tier
// The tier the dispatched kernels use, fixed for the life of the process: best_isa(), lowered
// to NAGARE_ISA when set. A tier this CPU lacks falls back to the best one below it; an
// unknown value is ignored. Either case prints one warning to stderr.
Isa active_isa();

const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512"
std::optional<Isa> parse_isa(std::string_view name);

}  // namespace nagare
