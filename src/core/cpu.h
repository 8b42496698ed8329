// CPU feature detection and the SIMD level the kernels dispatch to. Detection runs once (CPUID,
// plus XGETBV so a feature only counts when the OS saves its registers); OMNI_CPU=scalar|avx2|
// avx512 forces a lower level so tests and benchmarks can exercise every path on one machine.
#pragma once

#include <string>
#include <string_view>

namespace omni {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx512_bf16 = false;
  bool avx_vnni = false;  // VEX-encoded VNNI (Alder Lake and later)
  // AMX: amx_cpuid = CPUID bits present; amx_usable = the OS granted tile state and a tile
  // instruction actually ran (probed in a forked child, since some VMs advertise AMX and fault).
  bool amx_cpuid = false, amx_usable = false;
  std::string vendor, brand;
};

// Kernel levels, each a superset of the previous one.
//   kAvx2:   AVX2 + FMA + F16C (Haswell, Zen 1 and later).
//   kAvx512: AVX-512 F/BW/VL/DQ + AVX512_VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later);
//            Skylake-X class CPUs without VNNI run the AVX2 level.
enum class CpuLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Detected once, thread-safe.
const CpuFeatures& cpu_features();
// The best level this CPU supports (ignores OMNI_CPU).
CpuLevel cpu_max_level();
// The level kernels use: cpu_max_level(), lowered by OMNI_CPU if set. An OMNI_CPU value that
// names an unknown level or one above what the CPU supports throws omni::Error.
CpuLevel cpu_level();

std::string_view cpu_level_name(CpuLevel level);
// Parses an OMNI_CPU value ("scalar", "avx2", "avx512"); throws omni::Error for other names or a
// level above `max`.
CpuLevel cpu_level_from_string(std::string_view value, CpuLevel max);
// One line for logs and benchmark headers: brand, features, active level.
std::string cpu_summary();

}  // namespace omni
