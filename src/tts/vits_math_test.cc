#include "tts/vits_math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace omni::tts {
namespace {

// Distance in units in the last place between two finite floats of any sign.
int64_t ulps(float a, float b) {
  auto key = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i < 0 ? int64_t(INT32_MIN) - i : int64_t(i);
  };
  return std::llabs(key(a) - key(b));
}

// Every 1021st float in [-30, 30] (both signs, ~2 million values), plus edge cases.
std::vector<float> sweep() {
  std::vector<float> v;
  for (uint32_t bits = 0; bits < 0x41f00000u; bits += 1021) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    v.push_back(f);
    v.push_back(-f);
  }
  v.push_back(0.f);
  v.push_back(-0.f);
  v.push_back(1e-30f);
  v.push_back(100.f);
  v.push_back(-100.f);
  return v;
}

TEST(VitsMath, TanhWithinOneUlpOfDoubleReference) {
  const std::vector<float> x = sweep();
  std::vector<float> y(x.size());
  tanh_array(x.data(), int64_t(x.size()), y.data());
  int64_t worst = 0, worst_std = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float ref = float(std::tanh(double(x[i])));
    worst = std::max(worst, ulps(y[i], ref));
    worst_std = std::max(worst_std, ulps(y[i], std::tanh(x[i])));
  }
  // Rounded once from double: the correctly rounded float except in rare near-ties.
  std::printf("tanh: max %lld ulp vs double reference, %lld ulp vs std::tanh(float)\n",
              (long long)worst, (long long)worst_std);
  EXPECT_LE(worst, 1);
  EXPECT_LE(worst_std, 2);
  EXPECT_EQ(std::signbit(y[x.size() - 4]), true);  // tanh(-0) = -0
}

TEST(VitsMath, GateWithinOneUlpOfDoubleReference) {
  const std::vector<float> a = sweep();
  std::vector<float> b(a.rbegin(), a.rend());
  std::mt19937 rng(7);
  std::shuffle(b.begin(), b.end(), rng);
  std::vector<float> y(a.size());
  tanh_sigmoid_gate(a.data(), b.data(), int64_t(a.size()), y.data());
  int64_t worst = 0, worst_std = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double ref = std::tanh(double(a[i])) / (1.0 + std::exp(-double(b[i])));
    const float plain = std::tanh(a[i]) * (1.f / (1.f + std::exp(-b[i])));
    if (std::fabs(ref) < 1e-37) {
      EXPECT_LE(std::fabs(double(y[i]) - ref), 1e-44) << a[i] << " " << b[i];
      continue;
    }
    worst = std::max(worst, ulps(y[i], float(ref)));
    worst_std = std::max(worst_std, ulps(y[i], plain));
  }
  std::printf("gate: max %lld ulp vs double reference, %lld ulp vs the float formula\n",
              (long long)worst, (long long)worst_std);
  EXPECT_LE(worst, 1);
  EXPECT_LE(worst_std, 4);  // the float formula rounds three times
}

TEST(VitsMath, GeluWithinTwoUlpOfDoubleReference) {
  const std::vector<float> x = sweep();
  std::vector<float> y(x.size());
  gelu_array(x.data(), int64_t(x.size()), y.data());
  int64_t worst = 0;
  double worst_abs = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double ref = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
    worst_abs = std::max(worst_abs, std::fabs(double(y[i]) - ref));
    // Far in the negative tail the value is a few denormals: compare absolutely there.
    if (std::fabs(ref) < 1e-30) continue;
    worst = std::max(worst, ulps(y[i], float(ref)));
  }
  std::printf("gelu: max %lld ulp vs double reference (%.3g absolute)\n", (long long)worst,
              worst_abs);
  EXPECT_LE(worst, 2);
  EXPECT_LE(worst_abs, 1e-6);
}

TEST(VitsMath, ResultsDoNotDependOnHowTheArrayIsSplit) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 3.f);
  std::vector<float> a(203), b(203);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = normal(rng);
    b[i] = normal(rng);
  }
  std::vector<float> whole(a.size()), parts(a.size()), th(a.size()), th_parts(a.size());
  std::vector<float> ge(a.size()), ge_parts(a.size());
  tanh_sigmoid_gate(a.data(), b.data(), int64_t(a.size()), whole.data());
  tanh_array(a.data(), int64_t(a.size()), th.data());
  gelu_array(a.data(), int64_t(a.size()), ge.data());
  for (size_t i = 0; i < a.size();) {
    const size_t n = std::min(a.size() - i, 1 + i % 11);
    tanh_sigmoid_gate(a.data() + i, b.data() + i, int64_t(n), parts.data() + i);
    tanh_array(a.data() + i, int64_t(n), th_parts.data() + i);
    gelu_array(a.data() + i, int64_t(n), ge_parts.data() + i);
    i += n;
  }
  EXPECT_EQ(whole, parts);
  EXPECT_EQ(th, th_parts);
  EXPECT_EQ(ge, ge_parts);
  // In place.
  tanh_array(a.data(), int64_t(a.size()), a.data());
  EXPECT_EQ(a, th);
}

}  // namespace
}  // namespace omni::tts
