#include "vision/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/kernels_test_util.h"
#include "core/thread_pool.h"

namespace omni::vision {
namespace {

using kernels::testing::levels;
using kernels::testing::random_floats;

// softmax(q_h k_h^T * scale) v_h in double, straight from the definition.
std::vector<double> reference(const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, int64_t n, int n_head, int64_t d,
                              double scale) {
  const int64_t dh = d / n_head;
  std::vector<double> out(static_cast<size_t>(n * d)), s(static_cast<size_t>(n));
  for (int h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < n; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t e = 0; e < dh; ++e) {
          dot += static_cast<double>(q[i * d + h * dh + e]) * k[j * d + h * dh + e];
        }
        s[j] = dot * scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
      for (int64_t e = 0; e < dh; ++e) {
        double acc = 0;
        for (int64_t j = 0; j < n; ++j) acc += s[j] / sum * v[j * d + h * dh + e];
        out[i * d + h * dh + e] = acc;
      }
    }
  }
  return out;
}

struct Shape {
  int64_t n;
  int n_head;
  int64_t dh;
};

// Token counts around the 6-row and 64-key blocks, head widths below, at and across one
// 64-column panel, LLaVA-1.5's 577 tokens of 64-wide heads; 8 heads on 2 threads make whole-head
// work items (K and V packed per thread), fewer heads split them (packed up front).
const Shape kShapes[] = {{1, 1, 16},  {5, 2, 64},   {7, 3, 72},   {64, 2, 64},
                         {65, 4, 16}, {97, 2, 130}, {145, 3, 64}, {257, 4, 16},
                         {577, 1, 64}, {70, 8, 16}};

TEST(VisionAttention, MatchesDoubleReferenceAtEveryLevel) {
  std::mt19937 rng(7);
  ThreadPool pool(2);
  for (const Shape& sh : kShapes) {
    const int64_t d = sh.dh * sh.n_head;
    // Scores of a few units, as in a trained ViT: softmax rows neither flat nor one-hot.
    const auto q = random_floats(rng, sh.n * d, -1.5f, 1.5f);
    const auto k = random_floats(rng, sh.n * d, -1.5f, 1.5f);
    const auto v = random_floats(rng, sh.n * d);
    const double scale = 1.0 / std::sqrt(static_cast<double>(sh.dh));
    const auto want = reference(q, k, v, sh.n, sh.n_head, d, scale);
    for (CpuLevel level : levels()) {
      SCOPED_TRACE("n " + std::to_string(sh.n) + " heads " + std::to_string(sh.n_head) + " dh " +
                   std::to_string(sh.dh) + " level " + std::string(cpu_level_name(level)));
      std::vector<float> got(static_cast<size_t>(sh.n * d), NAN);
      self_attention(kernels::kernel_table(level), q.data(), k.data(), v.data(), sh.n,
                     sh.n_head, d, static_cast<float>(scale), got.data(), pool);
      double max_err = 0;
      for (size_t i = 0; i < got.size(); ++i) max_err = std::max(max_err, std::fabs(got[i] - want[i]));
      // Float sums of <= 257 terms of magnitude <= 1 with exp to ~2 ulp: a few 1e-6.
      EXPECT_LT(max_err, 2e-5);
      if (level == CpuLevel::kAvx512) {
        std::printf("[ measured ] n %lld heads %d dh %lld: max_abs %.3g\n",
                    static_cast<long long>(sh.n), sh.n_head, static_cast<long long>(sh.dh), max_err);
      }
    }
  }
}

// Scores of tens with gaps past 100 within a row: the far ones underflow to exactly 0 (the
// AVX-512 2^y is 0 below -125), rows close to one-hot still match the reference. A score of ~50
// is only good to ~4e-6 in float, and exp turns that into a relative error: a looser bound.
TEST(VisionAttention, LargeScoreGapsMatchReference) {
  std::mt19937 rng(11);
  ThreadPool pool(2);
  const int64_t n = 70, d = 32;
  const int heads = 2;
  const auto q = random_floats(rng, n * d, -12.0f, 12.0f);
  const auto k = random_floats(rng, n * d, -12.0f, 12.0f);
  const auto v = random_floats(rng, n * d);
  const auto want = reference(q, k, v, n, heads, d, 0.25);
  for (CpuLevel level : levels()) {
    SCOPED_TRACE(std::string(cpu_level_name(level)));
    std::vector<float> got(static_cast<size_t>(n * d), NAN);
    self_attention(kernels::kernel_table(level), q.data(), k.data(), v.data(), n, heads, d, 0.25f,
                   got.data(), pool);
    double max_err = 0;
    for (size_t i = 0; i < got.size(); ++i) max_err = std::max(max_err, std::fabs(got[i] - want[i]));
    EXPECT_LT(max_err, 1e-4);
  }
}

// q, k, v as column blocks of one n x 3d matrix (the fused projection's output) give what the
// separate matrices give, at every level.
TEST(VisionAttention, StridedInputsMatchSeparate) {
  std::mt19937 rng(9);
  ThreadPool pool(2);
  const int64_t n = 70, d = 96;
  const int heads = 3;
  const auto qkv = random_floats(rng, n * 3 * d, -1.5f, 1.5f);
  std::vector<float> q(static_cast<size_t>(n * d)), k(q.size()), v(q.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < d; ++c) {
      q[i * d + c] = qkv[i * 3 * d + c];
      k[i * d + c] = qkv[i * 3 * d + d + c];
      v[i * d + c] = qkv[i * 3 * d + 2 * d + c];
    }
  }
  for (CpuLevel level : levels()) {
    SCOPED_TRACE(std::string(cpu_level_name(level)));
    const auto& kt = kernels::kernel_table(level);
    std::vector<float> sep(q.size()), fused(q.size());
    self_attention(kt, q.data(), k.data(), v.data(), n, heads, d, 0.2f, sep.data(), pool);
    self_attention(kt, qkv.data(), qkv.data() + d, qkv.data() + 2 * d, 3 * d, n, heads, d, 0.2f,
                   fused.data(), pool);
    EXPECT_EQ(sep, fused);
  }
}

// Also across the two work splits: 8 heads are whole-head items on 1 thread and split ones on 3.
TEST(VisionAttention, ThreadCountDoesNotChangeResults) {
  std::mt19937 rng(8);
  const int64_t n = 150, d = 128;
  const auto q = random_floats(rng, n * d), k = random_floats(rng, n * d);
  const auto v = random_floats(rng, n * d);
  ThreadPool p1(1), p3(3);
  for (int heads : {2, 8}) {
    SCOPED_TRACE(heads);
    std::vector<float> one(static_cast<size_t>(n * d)), three(one.size());
    self_attention(q.data(), k.data(), v.data(), n, heads, d, 0.125f, one.data(), p1);
    self_attention(q.data(), k.data(), v.data(), n, heads, d, 0.125f, three.data(), p3);
    EXPECT_EQ(one, three);
  }
}

}  // namespace
}  // namespace omni::vision
