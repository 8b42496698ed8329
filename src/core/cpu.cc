#include "core/cpu.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace omni {
namespace {

struct Regs {
  uint32_t a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(uint32_t leaf, uint32_t sub = 0) {
  Regs r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}

uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool bit(uint32_t v, int n) { return (v >> n) & 1u; }

// Linux x86 arch_prctl codes for dynamically enabled XSAVE state (asm/prctl.h).
constexpr int kArchReqXcompPerm = 0x1023;
constexpr int kXfeatureXtiledata = 18;

// Runs LDTILECFG + TILEZERO + TILERELEASE in a child process: if the hypervisor advertises AMX
// but faults on it, only the child dies. Encoded as bytes so no -mamx flag is needed.
bool amx_probe() {
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    alignas(64) uint8_t cfg[64] = {};
    cfg[0] = 1;                   // palette 1
    cfg[16] = 64;                 // tile 0: 64 bytes per row
    cfg[48] = 16;                 // tile 0: 16 rows
    __asm__ volatile(
        ".byte 0xc4, 0xe2, 0x78, 0x49, 0x00\n\t"  // ldtilecfg (%rax)
        ".byte 0xc4, 0xe2, 0x7b, 0x49, 0xc0\n\t"  // tilezero %tmm0
        ".byte 0xc4, 0xe2, 0x78, 0x49, 0xc0\n\t"  // tilerelease
        :
        : "a"(cfg)
        : "memory");
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

CpuFeatures detect() {
  CpuFeatures f;
  const Regs r0 = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &r0.b, 4);
  std::memcpy(vendor + 4, &r0.d, 4);
  std::memcpy(vendor + 8, &r0.c, 4);
  f.vendor = vendor;
  if (cpuid(0x80000000).a >= 0x80000004) {
    char brand[49] = {};
    for (uint32_t i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  }
  const uint32_t max_leaf = r0.a;
  if (max_leaf < 1) return f;
  const Regs r1 = cpuid(1);
  const bool osxsave = bit(r1.c, 27);
  if (!osxsave) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;             // XMM + YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM state
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;         // XTILECFG + XTILEDATA
  if (!os_avx) return f;
  f.fma = bit(r1.c, 12);
  f.f16c = bit(r1.c, 29);
  if (max_leaf < 7) return f;
  const Regs r7 = cpuid(7, 0);
  const Regs r71 = cpuid(7, 1);
  f.avx2 = bit(r7.b, 5);
  f.bmi2 = bit(r7.b, 8);
  f.avx_vnni = bit(r71.a, 4);
  if (os_avx512) {
    f.avx512f = bit(r7.b, 16);
    f.avx512dq = bit(r7.b, 17);
    f.avx512bw = bit(r7.b, 30);
    f.avx512vl = bit(r7.b, 31);
    f.avx512_vnni = bit(r7.c, 11);
    f.avx512_bf16 = bit(r71.a, 5);
  }
  f.amx_cpuid = bit(r7.d, 24) && bit(r7.d, 25);  // AMX-TILE, AMX-INT8
  f.amx_usable = f.amx_cpuid && os_amx && amx_probe();
  return f;
}

CpuLevel max_level_of(const CpuFeatures& f) {
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512_vnni && f.avx2 && f.fma &&
      f.f16c) {
    return CpuLevel::kAvx512;
  }
  if (f.avx2 && f.fma && f.f16c) return CpuLevel::kAvx2;
  return CpuLevel::kScalar;
}

CpuLevel level_from_env(CpuLevel max) {
  const char* env = std::getenv("OMNI_CPU");
  if (env == nullptr || *env == '\0') return max;
  return cpu_level_from_string(env, max);
}

}  // namespace

CpuLevel cpu_level_from_string(std::string_view v, CpuLevel max) {
  CpuLevel want;
  if (v == "scalar") {
    want = CpuLevel::kScalar;
  } else if (v == "avx2") {
    want = CpuLevel::kAvx2;
  } else if (v == "avx512") {
    want = CpuLevel::kAvx512;
  } else {
    throw Error("OMNI_CPU=" + std::string(v) + ": expected scalar, avx2 or avx512");
  }
  if (want > max) {
    throw Error("OMNI_CPU=" + std::string(v) + ": this CPU supports at most " +
                std::string(cpu_level_name(max)));
  }
  return want;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

CpuLevel cpu_max_level() { return max_level_of(cpu_features()); }

CpuLevel cpu_level() {
  static const CpuLevel level = level_from_env(cpu_max_level());
  return level;
}

std::string_view cpu_level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::kScalar: return "scalar";
    case CpuLevel::kAvx2: return "avx2";
    case CpuLevel::kAvx512: return "avx512";
  }
  return "?";
}

std::string cpu_summary() {
  const CpuFeatures& f = cpu_features();
  std::string s = f.brand.empty() ? f.vendor : f.brand;
  s += " |";
  const auto add = [&s](bool on, const char* name) {
    if (on) {
      s += ' ';
      s += name;
    }
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512_vnni, "avx512_vnni");
  add(f.avx512_bf16, "avx512_bf16");
  add(f.avx_vnni, "avx_vnni");
  add(f.amx_cpuid, f.amx_usable ? "amx" : "amx(cpuid only, unusable)");
  s += " | level ";
  s += cpu_level_name(cpu_level());
  return s;
}

}  // namespace omni
