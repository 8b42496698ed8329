#include "core/mem_stats.h"

#include <sys/mman.h>

#include <cstring>

#include <gtest/gtest.h>

namespace omni {
namespace {

TEST(MemStats, ReportsResidentAndPeak) {
  const MemStats m = mem_stats();
  EXPECT_GT(m.rss, 0u);
  EXPECT_GE(m.peak, m.rss);
  EXPECT_NE(mem_stats_line(m).find("peak"), std::string::npos);
}

TEST(MemStats, ResetPeakForgetsAFreedTemporary) {
  constexpr size_t kBytes = size_t{96} << 20;
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 1, kBytes);
  const uint64_t with_buffer = mem_stats().peak;
  ::munmap(p, kBytes);
  ASSERT_TRUE(reset_peak_rss());
  const MemStats after = mem_stats();
  EXPECT_LT(after.peak + kBytes / 2, with_buffer);
  EXPECT_GE(after.peak, after.rss);
}

}  // namespace
}  // namespace omni
