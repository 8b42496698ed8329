#include "core/cpu.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace omni {
namespace {

TEST(Cpu, LevelsAreConsistentWithFeatures) {
  const CpuFeatures& f = cpu_features();
  const CpuLevel max = cpu_max_level();
  if (max >= CpuLevel::kAvx2) {
    EXPECT_TRUE(f.avx2 && f.fma && f.f16c);
  }
  if (max >= CpuLevel::kAvx512) {
    EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512_vnni);
  }
  EXPECT_LE(cpu_level(), max);
  // AMX is only usable if CPUID advertises it.
  if (f.amx_usable) {
    EXPECT_TRUE(f.amx_cpuid);
  }
  const std::string s = cpu_summary();
  EXPECT_NE(s.find(std::string(cpu_level_name(cpu_level()))), std::string::npos) << s;
}

TEST(Cpu, ParsesForcedLevel) {
  EXPECT_EQ(cpu_level_from_string("scalar", CpuLevel::kAvx512), CpuLevel::kScalar);
  EXPECT_EQ(cpu_level_from_string("avx2", CpuLevel::kAvx512), CpuLevel::kAvx2);
  EXPECT_EQ(cpu_level_from_string("avx512", CpuLevel::kAvx512), CpuLevel::kAvx512);
  EXPECT_THROW(cpu_level_from_string("avx512", CpuLevel::kAvx2), Error);
  EXPECT_THROW(cpu_level_from_string("sse9", CpuLevel::kAvx512), Error);
  EXPECT_THROW(cpu_level_from_string("AVX2", CpuLevel::kAvx512), Error);
}

TEST(Cpu, LevelNames) {
  EXPECT_EQ(cpu_level_name(CpuLevel::kScalar), "scalar");
  EXPECT_EQ(cpu_level_name(CpuLevel::kAvx2), "avx2");
  EXPECT_EQ(cpu_level_name(CpuLevel::kAvx512), "avx512");
}

}  // namespace
}  // namespace omni
