#include "core/cpu.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/kernels.h"

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

// OMNI_CPU is read once per process, so each level is checked in a child run of this test
// binary (which then takes the first branch).
TEST(Cpu, EnvironmentForcesLevel) {
  if (const char* expect = std::getenv("OMNI_TEST_EXPECT_LEVEL")) {
    if (std::string(expect) == "error") {
      EXPECT_THROW(cpu_level(), Error);
    } else {
      EXPECT_EQ(cpu_level_name(cpu_level()), expect);
      EXPECT_EQ(kernels::active().level, cpu_level());
    }
    return;
  }
  const auto run = [](const std::string& value, const std::string& expect) {
    const std::string cmd = "OMNI_CPU=" + value + " OMNI_TEST_EXPECT_LEVEL=" + expect +
                            " /proc/" + std::to_string(getpid()) +
                            "/exe --gtest_filter=Cpu.EnvironmentForcesLevel >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  for (int l = 0; l <= static_cast<int>(cpu_max_level()); ++l) {
    const std::string name(cpu_level_name(static_cast<CpuLevel>(l)));
    EXPECT_EQ(run(name, name), 0) << name;
    EXPECT_NE(run(name, "nonsense"), 0) << "the child check must be able to fail";
  }
  EXPECT_EQ(run("bogus", "error"), 0);
}

TEST(Cpu, LevelNames) {
  EXPECT_EQ(cpu_level_name(CpuLevel::kScalar), "scalar");
  EXPECT_EQ(cpu_level_name(CpuLevel::kAvx2), "avx2");
  EXPECT_EQ(cpu_level_name(CpuLevel::kAvx512), "avx512");
}

}  // namespace
}  // namespace omni
