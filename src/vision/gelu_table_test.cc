#include "vision/gelu_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/half.h"

namespace omni::vision {
namespace {

// The f16 value nearest to v (ties to even), as a float.
float f16(double v) { return fp16_to_fp32(fp32_to_fp16(static_cast<float>(v))); }

TEST(VisionGeluTable, EqualsF16RoundedFormulaOverTheF16Range) {
  // Every finite f16 input inside (-10, 10): the result is the f16 rounding of the exact
  // function, give or take one f16 step where the float formula sits next to a rounding tie.
  int off_by_one = 0, n = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float x = fp16_to_fp32(static_cast<uint16_t>(h));
    if (!std::isfinite(x) || !(x > -10.0f && x < 10.0f)) continue;
    const double xd = x;
    const double g = 0.5 * xd * (1 + std::tanh(std::sqrt(2 / M_PI) * xd * (1 + 0.044715 * xd * xd)));
    const double q = xd / (1 + std::exp(-1.702 * xd));
    float y[2] = {x, x};
    gelu_tanh_f16_table(&y[0], 1);
    quick_gelu_f16_table(&y[1], 1);
    for (int k = 0; k < 2; ++k) {
      const double want = k == 0 ? g : q;
      const float w = f16(want);
      if (y[k] != w) {
        ++off_by_one;
        EXPECT_LE(std::fabs(y[k] - want), std::fabs(w - want) * 2 + 1e-7 + std::fabs(want) * 1e-3)
            << (k == 0 ? "gelu" : "quick") << " at " << x;
      }
      ++n;
    }
  }
  // The float formula sits within a few float ulps of the exact value; ~0.4 % of the f16 steps
  // are close enough to a rounding tie for that to pick the neighbour.
  EXPECT_LT(off_by_one, n / 100);
}

TEST(VisionGeluTable, RoundsTheInputAndClampsLikeGgml) {
  std::vector<float> x = {-20.0f, -10.0f, 10.0f, 37.5f, 1.0001f, 1.0f};
  gelu_tanh_f16_table(x.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_EQ(x[2], 10.0f);
  EXPECT_EQ(x[3], 37.5f);
  EXPECT_EQ(x[4], x[5]);  // 1.0001 rounds to the f16 1.0
  EXPECT_EQ(x[5], f16(0.8411919906082768));
}

}  // namespace
}  // namespace omni::vision
