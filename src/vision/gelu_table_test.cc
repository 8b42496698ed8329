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

TEST(VisionGeluTable, VectorInputRoundingEqualsTheScalarOne) {
  // The block path (vector f16 rounding of the inputs) against the scalar rounding of core/half.h
  // (an f16 input is its own rounding), over lengths that end inside a vector and a block, with
  // near-ties, clamps and signed zeros.
  for (const int64_t n : {int64_t{1}, int64_t{17}, int64_t{512}, int64_t{1300}}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      x[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i)) * 9.5);
      if (i % 7 == 3) {  // exactly between two f16 values: ties go to the even one
        const auto hb = static_cast<uint16_t>(0x3800 + i);
        x[i] = (fp16_to_fp32(hb) + fp16_to_fp32(static_cast<uint16_t>(hb + 1))) / 2;
      }
      if (i % 11 == 5) x[i] = i % 2 ? -0.0f : 10.0f;
    }
    for (int k = 0; k < 2; ++k) {
      std::vector<float> a = x, b = x;
      for (auto& v : b) v = fp16_to_fp32(fp32_to_fp16(v));
      using Fn = void (*)(float*, int64_t);
      const Fn fn = k == 0 ? static_cast<Fn>(gelu_tanh_f16_table) : static_cast<Fn>(quick_gelu_f16_table);
      fn(a.data(), n);
      for (auto& v : b) fn(&v, 1);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::signbit(a[i]), std::signbit(b[i])) << k << " " << i;
        ASSERT_EQ(a[i], b[i]) << k << " at " << x[i];
      }
    }
  }
}

TEST(VisionGeluTable, EveryLevelGivesTheSameResults) {
  // Every f16 bit pattern as a float (NaN, infinities, subnormals, both zeros), plus values off
  // the f16 grid and next to the clamps, at lengths that end inside a vector.
  std::vector<float> x;
  for (uint32_t h = 0; h < 65536; ++h) x.push_back(fp16_to_fp32(static_cast<uint16_t>(h)));
  for (int i = 0; i < 5000; ++i) x.push_back(static_cast<float>(std::sin(0.7 * i) * 12.0));
  for (float v : {-10.0f, 10.0f, std::nextafter(-10.0f, 0.0f), std::nextafter(10.0f, 0.0f)}) {
    x.push_back(v);
  }
  x.push_back(0.5f);  // odd length
  for (int k = 0; k < 2; ++k) {
    auto fn = k == 0 ? static_cast<void (*)(float*, int64_t, CpuLevel)>(gelu_tanh_f16_table)
                     : static_cast<void (*)(float*, int64_t, CpuLevel)>(quick_gelu_f16_table);
    std::vector<float> want = x;
    fn(want.data(), static_cast<int64_t>(want.size()), CpuLevel::kScalar);
    for (CpuLevel level : {CpuLevel::kAvx2, CpuLevel::kAvx512}) {
      if (level > cpu_max_level()) continue;
      std::vector<float> got = x;
      fn(got.data(), static_cast<int64_t>(got.size()), level);
      for (size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(want[i])) {
          ASSERT_TRUE(std::isnan(got[i])) << k << " at " << x[i];
          continue;
        }
        ASSERT_EQ(std::signbit(got[i]), std::signbit(want[i])) << k << " at " << x[i];
        ASSERT_EQ(got[i], want[i]) << k << " at " << x[i];
      }
    }
  }
}

}  // namespace
}  // namespace omni::vision
