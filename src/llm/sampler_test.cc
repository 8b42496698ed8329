#include "llm/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
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

}  // namespace
}  // namespace omni::llm
