#include "tts/winograd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "tts/vits_ops.h"

namespace omni::tts {
namespace {

// Direct double-precision reference of Conv1d (+ optional leaky_relu on the input).
std::vector<double> reference(const Conv1d& c, const Act& x, float slope) {
  const int tout = x.t + 2 * c.pad - c.dilation * (c.k - 1);
  std::vector<double> y(size_t(c.cout) * tout);
  for (int co = 0; co < c.cout; ++co) {
    for (int t = 0; t < tout; ++t) {
      double s = c.b.empty() ? 0.0 : c.b[co];
      for (int ci = 0; ci < c.cin; ++ci) {
        for (int kk = 0; kk < c.k; ++kk) {
          const int u = t + kk * c.dilation - c.pad;
          if (u < 0 || u >= x.t) continue;
          float v = x.row(ci)[u];
          if (v < 0) v *= slope;
          s += double(c.w[(size_t(co) * c.cin + ci) * c.k + kk]) * v;
        }
      }
      y[size_t(co) * tout + t] = s;
    }
  }
  return y;
}

Conv1d random_conv(int cin, int cout, int k, int dil, std::mt19937& rng) {
  Conv1d c;
  c.cin = cin;
  c.cout = cout;
  c.k = k;
  c.dilation = dil;
  c.pad = dil * (k - 1) / 2;
  const float bound = 1.f / std::sqrt(float(cin * k));
  std::uniform_real_distribution<float> u(-bound, bound);
  c.w.resize(size_t(cout) * cin * k);
  for (float& v : c.w) v = u(rng);
  c.b.resize(size_t(cout));
  for (float& v : c.b) v = u(rng);
  return c;
}

Act random_act(int c, int t, std::mt19937& rng) {
  Act x(c, t);
  std::normal_distribution<float> n(0.f, 1.f);
  for (float& v : x.d) v = n(rng);
  return x;
}

TEST(Winograd, MatricesReproduceCorrelationExactly) {
  for (int m : {4, 6, 8}) {
    for (int r : {3, 5, 7}) {
      if (m + r - 1 > 10) continue;
      const int n = m + r - 1;
      std::vector<double> bt, g, at;
      winograd_matrices(m, r, &bt, &g, &at);
      std::mt19937 rng(7);
      std::uniform_real_distribution<double> u(-1, 1);
      std::vector<double> x(static_cast<size_t>(n)), w(static_cast<size_t>(r));
      for (double& v : x) v = u(rng);
      for (double& v : w) v = u(rng);
      for (int j = 0; j < m; ++j) {
        double want = 0;
        for (int k = 0; k < r; ++k) want += w[k] * x[j + k];
        double got = 0;
        for (int a = 0; a < n; ++a) {
          double gw = 0, bx = 0;
          for (int k = 0; k < r; ++k) gw += g[size_t(a) * r + k] * w[k];
          for (int i = 0; i < n; ++i) bx += bt[size_t(a) * n + i] * x[i];
          got += at[size_t(j) * n + a] * gw * bx;
        }
        EXPECT_NEAR(got, want, 1e-12) << "F(" << m << "," << r << ") j " << j;
      }
    }
  }
}

struct Case {
  int k, dilation, cin, cout, t;
};

// Every (kernel, dilation) Piper's VITS uses: decoder ResBlock2 (3: 1,2; 5: 2,6; 7: 3,12),
// conv_pre / conv_post (7, 1), flow WaveNet (5, 1), encoder FFN (3, 1); odd channel counts
// (GEMM panel edges) and lengths shorter than one tile group.
TEST(Winograd, MatchesDirectConvolution) {
  const Case cases[] = {
      {3, 1, 13, 9, 100}, {3, 2, 8, 8, 37},  {5, 2, 16, 16, 257}, {5, 6, 9, 11, 61},
      {7, 3, 32, 32, 300}, {7, 12, 8, 8, 50}, {7, 12, 5, 9, 7},   {7, 1, 24, 40, 33},
      {5, 1, 48, 96, 70}, {3, 1, 64, 20, 5},  {3, 2, 32, 32, 1},
  };
  ThreadPool pool(2);
  std::mt19937 rng(42);
  // Under 8 output channels the layer stays direct (conv_post: 32 -> 1).
  EXPECT_EQ(WinogradConv::tile_for(7, 1, 1), 0);
  EXPECT_GT(WinogradConv::tile_for(7, 1, 8), 0);
  for (const Case& cs : cases) {
    for (float slope : {1.f, 0.1f}) {
      SCOPED_TRACE("k " + std::to_string(cs.k) + " d " + std::to_string(cs.dilation) + " cin " +
                   std::to_string(cs.cin) + " cout " + std::to_string(cs.cout) + " t " +
                   std::to_string(cs.t) + " slope " + std::to_string(slope));
      Conv1d fast = random_conv(cs.cin, cs.cout, cs.k, cs.dilation, rng);
      Conv1d direct = fast;
      fast.prepare(true);
      direct.prepare(false);
      ASSERT_TRUE(fast.wino.ready());
      EXPECT_TRUE(fast.wino.paired());
      ASSERT_FALSE(direct.wino.ready());
      const Act x = random_act(cs.cin, cs.t, rng);
      const std::vector<double> ref = reference(fast, x, slope);
      const Act yd = direct(x, nullptr, slope);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        const Act yf = fast(x, p, slope);
        ASSERT_EQ(yf.d.size(), ref.size());
        double err_fast = 0, err_direct = 0, mag = 0;
        for (size_t i = 0; i < ref.size(); ++i) {
          err_fast = std::max(err_fast, std::fabs(yf.d[i] - ref[i]));
          err_direct = std::max(err_direct, std::fabs(yd.d[i] - ref[i]));
          mag = std::max(mag, std::fabs(ref[i]));
        }
        // float32 direct: ~5e-7 of the output's magnitude here; tiles of 6 and 8 points
        // (F(4,3), F(6,3), F(4,5)) measured up to 2x that, 10 points (F(4,7), F(6,5), F(8,3);
        // +-3/4 the least benign) up to 8x.
        const double bound = (fast.wino.n() >= 10 ? 6e-6 : 1.5e-6) * std::max(1.0, mag);
        EXPECT_LE(err_fast, bound) << "direct err " << err_direct;
        // Residual form: y = conv(x) + y, in place on the input.
        Act acc = x;
        if (cs.cin == cs.cout) {
          fast.accumulate(acc, acc, p, slope);
          double e = 0;
          for (size_t i = 0; i < ref.size(); ++i)
            e = std::max(e, std::fabs(acc.d[i] - (ref[i] + x.d[i])));
          EXPECT_LE(e, bound);
        }
      }
      // Thread count does not change a single bit.
      const Act y1 = fast(x, nullptr, slope), y2 = fast(x, &pool, slope);
      EXPECT_EQ(y1.d, y2.d);
    }
  }
}

// One output channel (conv_post) runs direct on the single-row GEMM kernel, any length.
TEST(Winograd, TilesWithoutTransformsAreRefused) {
  const std::vector<float> w(size_t(8) * 8 * 7, 0.5f);
  for (const auto& [m, r] : {std::pair{2, 3}, std::pair{3, 3}, std::pair{6, 7}, std::pair{8, 5}}) {
    WinogradConv c;
    EXPECT_THROW(c.prepare(w.data(), 8, 8, r, 1, m), Error) << "F(" << m << "," << r << ")";
  }
  for (int r : {3, 5, 7}) {  // what tile_for picks is always built
    for (int d : {1, 2, 3, 6, 12}) {
      WinogradConv c;
      EXPECT_NO_THROW(c.prepare(w.data(), 8, 8, r, d, WinogradConv::tile_for(r, d, 8)));
    }
  }
}

TEST(Winograd, SingleOutputChannelStaysDirect) {
  std::mt19937 rng(3);
  ThreadPool pool(2);
  for (int t : {1, 31, 32, 33, 1000}) {
    Conv1d c = random_conv(32, 1, 7, 1, rng);
    c.prepare(true);
    EXPECT_FALSE(c.wino.ready());
    const Act x = random_act(32, t, rng);
    const std::vector<double> ref = reference(c, x, 0.1f);
    const Act y = c(x, nullptr, 0.1f), y2 = c(x, &pool, 0.1f);
    ASSERT_EQ(y.d.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(y.d[i], ref[i], 2e-6) << "t " << t;
    EXPECT_EQ(y.d, y2.d);
  }
}

}  // namespace
}  // namespace omni::tts
