// Which SIMD extensions this CPU (and OS) offers, and the kernel tier ("ISA") the process runs:
// the best one available, or a lower one named by the environment variable
// NAGARE_ISA=scalar|avx2|avx512 on x86-64, scalar|neon on AArch64 (so tests and benchmarks can
// exercise every path).
#pragma once

#include <optional>
#include <string_view>

namespace nagare {

// Kernel tiers. kAvx2 needs AVX2 + FMA + F16C; kAvx512 needs AVX-512 F, BW, VL and VNNI (Ice
// Lake, Zen 4 and later) on top of that; kNeon is AArch64's baseline Advanced SIMD. The values
// are the same on every architecture (they index the kernel tables); kAllIsas lists the tiers
// of the architecture this was built for, lowest first, and only those have names to parse.
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kNeon = 3 };
inline constexpr int kIsaCount = 4;
#if defined(__aarch64__)
inline constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kNeon};
#else
inline constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};
#endif

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  bool os_ymm = false, os_zmm = false;  // the OS saves the wider registers (XCR0)
  bool neon = false;                     // AArch64 Advanced SIMD (always there on Linux)
};

const CpuFeatures& cpu_features();  // read once (cpuid/xgetbv on x86, the auxv on AArch64)
bool isa_supported(Isa isa);        // whether this machine can run the tier
Isa best_isa();                     // the highest supported tier
// The tier the dispatched kernels use, fixed for the life of the process: best_isa(), lowered
// to NAGARE_ISA when set. A tier this CPU lacks falls back to the best one; an unknown value
// (or another architecture's tier) is ignored. Either case prints one warning to stderr.
Isa active_isa();

const char* isa_name(Isa isa);  // "scalar", "avx2", "avx512", "neon"
std::optional<Isa> parse_isa(std::string_view name);  // this architecture's tiers only

}  // namespace nagare
