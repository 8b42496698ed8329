#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace omni {
namespace {

// Every half value converts to float and back to the same bits (NaNs stay NaN).
TEST(Half, AllHalfValuesRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    const uint16_t back = fp32_to_fp16(f);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(back))) << h;
    } else {
      EXPECT_EQ(back, h) << "half bits " << h;
    }
  }
}

// Rounding to nearest even against a double reference over many floats, incl. subnormals.
TEST(Half, RoundsToNearestEven) {
  auto ref = [](float f) -> uint16_t {
    // Pick the half whose value is nearest; ties to the even mantissa.
    uint16_t best = 0;
    double best_err = std::numeric_limits<double>::infinity();
    const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    for (uint32_t m = 0; m < 0x7c00; ++m) {
      const double v = std::fabs(static_cast<double>(fp16_to_fp32(static_cast<uint16_t>(m))));
      const double err = std::fabs(v - std::fabs(static_cast<double>(f)));
      if (err < best_err || (err == best_err && (m & 1) == 0)) {
        best_err = err;
        best = static_cast<uint16_t>(m);
      }
    }
    return static_cast<uint16_t>(sign | best);
  };
  const float samples[] = {0.0f, 1.0f, -1.0f, 0.1f, 3.14159f, 65504.0f, 65519.0f, 1e-5f, -6.1e-5f,
                           5.96e-8f, 2.98e-8f, 2.99e-8f, 1.0009765625f, 1.00048828125f,
                           1.00146484375f, 1234.5678f, -0.00033f};
  for (float f : samples) EXPECT_EQ(fp32_to_fp16(f), ref(f)) << f;
  EXPECT_EQ(fp32_to_fp16(70000.0f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
}

TEST(BFloat16, RoundTripAndRounding) {
  EXPECT_EQ(bf16_to_fp32(fp32_to_bf16(1.0f)), 1.0f);
  EXPECT_EQ(fp32_to_bf16(1.00390625f), 0x3f80);  // tie -> even (down)
  EXPECT_EQ(fp32_to_bf16(1.01171875f), 0x3f82);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(b));
    if (!std::isnan(f)) {
      EXPECT_EQ(fp32_to_bf16(f), b);
    }
  }
}

}  // namespace
}  // namespace omni
