#include "core/mem_probe.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace omni {
namespace {

TEST(MemProbe, EveryShapeReadsAndResultsAreSortedBestFirst) {
  ThreadPool pool(2);
  const auto r = probe_read_bandwidth(pool, size_t{8} << 20, 1);
  // 4 plain shapes + 2 stream counts x 4 prefetch settings at the widest load width, plus the
  // 4 plain shapes at 32-byte loads where 64-byte ones exist.
  ASSERT_EQ(r.size(), cpu_max_level() >= CpuLevel::kAvx512 ? 16u : 12u);
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_TRUE(std::isfinite(r[i].gb_per_s) && r[i].gb_per_s > 0) << r[i].shape.name();
    EXPECT_EQ(r[i].threads, 2);
    if (i > 0) {
      EXPECT_GE(r[i - 1].gb_per_s, r[i].gb_per_s);
    }
  }
}

TEST(MemProbe, RejectsBadShapesAndTinyBuffers) {
  ThreadPool pool(1);
  const size_t n = size_t{4} << 20;
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(static_cast<uint8_t*>(std::aligned_alloc(4096, n)),
                                                      &std::free);
  std::memset(buf.get(), 1, n);
  EXPECT_GT(measure_read(pool, buf.get(), n, MemReadShape{8, 4096, true, true}), 0.0);
  EXPECT_THROW(measure_read(pool, buf.get(), n, MemReadShape{3, 0, true, true}), Error);
  EXPECT_THROW(measure_read(pool, buf.get(), n / 2, MemReadShape{}), Error);
  EXPECT_EQ((MemReadShape{4, 16384, true, true}.name()), "zmm x4 pf16k-L2");
}

}  // namespace
}  // namespace omni
