#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/thread_pool.h"
#include "tts/vits_ops.h"

namespace omni::tts {
namespace {

// torch.nn.ConvTranspose1d in double, on leaky_relu(slope) of the input.
std::vector<double> reference(const ConvTranspose1d& u, const Act& x, float slope) {
  const int tout = (x.t - 1) * u.stride - 2 * u.pad + u.k;
  std::vector<double> y(size_t(u.cout) * tout);
  for (int co = 0; co < u.cout; ++co) {
    for (int o = 0; o < tout; ++o) y[size_t(co) * tout + o] = u.b.empty() ? 0.0 : u.b[co];
  }
  for (int ci = 0; ci < u.cin; ++ci) {
    for (int t = 0; t < x.t; ++t) {
      float v = x.row(ci)[t];
      if (v < 0) v *= slope;
      for (int kk = 0; kk < u.k; ++kk) {
        const int o = t * u.stride + kk - u.pad;
        if (o < 0 || o >= tout) continue;
        for (int co = 0; co < u.cout; ++co)
          y[size_t(co) * tout + o] += double(u.w[(size_t(ci) * u.cout + co) * u.k + kk]) * v;
      }
    }
  }
  return y;
}

// Shapes of the Piper upsamplers (k = 2 * stride, pad = stride / 2) and odd ones (k not a
// multiple of the stride, no padding), long enough for several column blocks.
TEST(ConvTranspose, MatchesReferenceAndThreadCount) {
  struct Shape {
    int cin, cout, k, stride, pad, t;
    bool wino;  // the phases' input offsets span 3 columns
  };
  const Shape shapes[] = {{24, 16, 16, 8, 4, 150, true}, {16, 8, 8, 4, 2, 1500, true},
                          {8, 5, 4, 2, 1, 3, true},      {12, 9, 7, 3, 0, 400, true},
                          {8, 5, 3, 2, 1, 31, false},    {6, 4, 9, 2, 0, 40, false}};
  std::mt19937 rng(7);
  ThreadPool pool(3);
  for (const Shape& s : shapes) {
    ConvTranspose1d u;
    u.cin = s.cin;
    u.cout = s.cout;
    u.k = s.k;
    u.stride = s.stride;
    u.pad = s.pad;
    std::uniform_real_distribution<float> w(-0.2f, 0.2f);
    u.w.resize(size_t(s.cin) * s.cout * s.k);
    for (float& v : u.w) v = w(rng);
    u.b.resize(size_t(s.cout));
    for (float& v : u.b) v = w(rng);
    Act x(s.cin, s.t);
    std::normal_distribution<float> n(0.f, 1.f);
    for (float& v : x.d) v = n(rng);
    const std::vector<double> ref = reference(u, x, 0.1f);
    double mag = 0;
    for (double v : ref) mag = std::max(mag, std::fabs(v));
    auto err = [&](const Act& y) {
      EXPECT_EQ(y.d.size(), ref.size());
      double e = 0;
      for (size_t i = 0; i < ref.size() && i < y.d.size(); ++i)
        e = std::max(e, std::fabs(y.d[i] - ref[i]));
      return e;
    };
    SCOPED_TRACE("cin " + std::to_string(s.cin) + " k " + std::to_string(s.k) + " stride " +
                 std::to_string(s.stride) + " t " + std::to_string(s.t));
    const Act unpacked = u(x, nullptr, 0.1f);  // weights packed per call, direct
    u.prepare(false);
    EXPECT_FALSE(u.wino.ready());
    const Act direct = u(x, nullptr, 0.1f), direct2 = u(x, &pool, 0.1f);
    EXPECT_EQ(direct.d, unpacked.d);
    EXPECT_EQ(direct.d, direct2.d);
    EXPECT_LT(err(direct), 1e-6 * std::max(1.0, mag));
    // Three input offsets (e.g. k = 2 * stride, pad = stride / 2): Winograd F(8,3) (10 points:
    // up to ~8x the direct float32 error, as in winograd_test.cc).
    u.prepare(true);
    EXPECT_EQ(u.wino.ready(), s.wino);
    const Act fast = u(x, nullptr, 0.1f), fast2 = u(x, &pool, 0.1f);
    EXPECT_EQ(fast.d, fast2.d);
    EXPECT_LT(err(fast), 6e-6 * std::max(1.0, mag)) << "direct " << err(direct);
  }
}

}  // namespace
}  // namespace omni::tts
