#include "llm/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace omni::llm {
namespace {

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  std::vector<float> l = {0.1f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(s.sample(l, {}), 1);
}

TEST(Sampler, SameSeedSameTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0;
  std::vector<float> base(100);
  for (int i = 0; i < 100; ++i) base[i] = std::sin(static_cast<float>(i));
  Sampler a(p), b(p);
  for (int i = 0; i < 50; ++i) {
    auto la = base, lb = base;
    EXPECT_EQ(a.sample(la, {}), b.sample(lb, {}));
  }
}

TEST(Sampler, TopKRestrictsToBestK) {
  SamplingParams p;
  p.temperature = 5.0f;  // flatten, so without top-k others would appear
  p.top_k = 2;
  p.top_p = 1.0f;
  p.min_p = 0;
  Sampler s(p);
  for (int i = 0; i < 200; ++i) {
    std::vector<float> l = {1.0f, 3.0f, 0.5f, 2.9f, 0.0f};
    const int t = s.sample(l, {});
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
}

TEST(Sampler, DistributionFollowsSoftmax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0;
  p.seed = 7;
  Sampler s(p);
  const std::vector<float> base = {0.0f, std::log(3.0f)};  // probabilities 1/4, 3/4
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    auto l = base;
    ones += s.sample(l, {}) == 1;
  }
  EXPECT_NEAR(static_cast<double>(ones) / n, 0.75, 0.015);
}

TEST(Sampler, TopPAndMinPCut) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.5f;  // the first candidate alone has p > 0.5
  p.min_p = 0;
  Sampler s(p);
  for (int i = 0; i < 100; ++i) {
    std::vector<float> l = {0.0f, 3.0f, 1.0f};
    EXPECT_EQ(s.sample(l, {}), 1);
  }
  SamplingParams q = p;
  q.top_p = 1.0f;
  q.min_p = 0.5f;  // keeps tokens with p >= 0.5 * p_max: ids 0 and 1 (equal logits)
  Sampler s2(q);
  std::map<int, int> seen;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> l = {2.0f, 2.0f, 0.0f};
    ++seen[s2.sample(l, {})];
  }
  EXPECT_EQ(seen.count(2), 0u);
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
}

TEST(Sampler, PenaltiesAndBias) {
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  Sampler s(p);
  std::vector<float> l = {1.0f, 1.5f};
  const std::vector<int32_t> hist = {1};
  EXPECT_EQ(s.sample(l, hist), 0);  // 1.5 / 2 = 0.75 < 1.0
  EXPECT_FLOAT_EQ(l[1], 0.75f);

  SamplingParams f;
  f.temperature = 0;
  f.frequency_penalty = 0.3f;
  f.presence_penalty = 0.1f;
  Sampler s2(f);
  std::vector<float> l2 = {1.0f, 1.5f};
  const std::vector<int32_t> hist2 = {1, 1};
  s2.sample(l2, hist2);
  EXPECT_FLOAT_EQ(l2[1], 1.5f - 0.6f - 0.1f);

  SamplingParams b;
  b.temperature = 0;
  b.logit_bias = {{1, -std::numeric_limits<float>::infinity()}};
  Sampler s3(b);
  std::vector<float> l3 = {1.0f, 5.0f, 2.0f};
  EXPECT_EQ(s3.sample(l3, {}), 2);
}

// argmax is the serial scan "take i when logits[i] > the best so far", including its answers
// for NaN (never greater; a NaN at 0 keeps 0), signed zeros (equal: the first stays), infinities
// and ties, over lengths with and without a partial block of 16.
TEST(Sampler, ArgmaxEqualsSerialScan) {
  const auto serial = [](const std::vector<float>& l) {
    int32_t best = 0;
    for (size_t i = 1; i < l.size(); ++i) {
      if (l[i] > l[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
    }
    return best;
  };
  std::mt19937 rng(9);
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {std::nanf(""), -0.0f, 0.0f, inf, -inf, 1.0f, -2.0f, 3.0f};
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<float> l(1 + rng() % 80);
    for (auto& v : l) v = specials[rng() % 8];
    ASSERT_EQ(argmax(l), serial(l)) << trial;
  }
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> big(151936);
  for (auto& v : big) v = normal(rng);
  EXPECT_EQ(argmax(big), serial(big));
  big[77777] = 100.0f;
  big[150000] = 100.0f;
  EXPECT_EQ(argmax(big), 77777);
}

TEST(Sampler, GreedyOnlyWithoutBiasOrPenalties) {
  SamplingParams p;
  p.temperature = 0;
  EXPECT_TRUE(Sampler(p).greedy());
  p.repeat_penalty = 1.1f;
  EXPECT_FALSE(Sampler(p).greedy());
  p.repeat_penalty = 1.0f;
  p.logit_bias = {{3, 1.0f}};
  EXPECT_FALSE(Sampler(p).greedy());
  p.logit_bias.clear();
  p.temperature = 0.8f;
  EXPECT_FALSE(Sampler(p).greedy());
}

}  // namespace
}  // namespace omni::llm
