#include "asr/fft.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "core/error.h"

namespace omni::asr {
namespace {

std::vector<float> random_signal(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = u(rng);
  return x;
}

// Textbook recursive decimation in time with a naive DFT for odd sizes, written the direct way
// (allocating, recursive) over the same float table: the order of operations WhisperFft claims
// to reproduce. Complex values as (re, im) pairs.
struct Recursive {
  int table_n;
  std::vector<float> c, s;
  explicit Recursive(int n) : table_n(n), c(n), s(n) {
    for (int i = 0; i < n; ++i) {
      const double t = (2 * M_PI * i) / n;
      s[i] = std::sin(static_cast<float>(t));
      c[i] = std::cos(static_cast<float>(t));
    }
  }
  std::vector<float> run(const std::vector<float>& x) const {
    const int n = static_cast<int>(x.size());
    std::vector<float> out(2 * n);
    if (n % 2 == 1) {
      const int step = table_n / n;
      for (int k = 0; k < n; ++k) {
        float re = 0, im = 0;
        for (int j = 0; j < n; ++j) {
          const int idx = (k * j * step) % table_n;
          re += x[j] * c[idx];
          im -= x[j] * s[idx];
        }
        out[2 * k] = re;
        out[2 * k + 1] = im;
      }
      return out;
    }
    std::vector<float> ev(n / 2), od(n / 2);
    for (int i = 0; i < n / 2; ++i) ev[i] = x[2 * i], od[i] = x[2 * i + 1];
    const auto e = run(ev), o = run(od);
    const int step = table_n / n;
    for (int k = 0; k < n / 2; ++k) {
      const float wr = c[k * step], wi = -s[k * step];
      const float orr = o[2 * k], oi = o[2 * k + 1];
      out[2 * k] = e[2 * k] + wr * orr - wi * oi;
      out[2 * k + 1] = e[2 * k + 1] + wr * oi + wi * orr;
      out[2 * (k + n / 2)] = e[2 * k] - wr * orr + wi * oi;
      out[2 * (k + n / 2) + 1] = e[2 * k + 1] - wr * oi - wi * orr;
    }
    return out;
  }
};

TEST(WhisperFft, BitIdenticalToRecursiveEvaluation) {
  for (const int n : {1, 2, 3, 4, 6, 12, 25, 50, 100, 200, 400, 512, 96, 1000}) {
    const auto x = random_signal(n, 1234u + n);
    const auto ref = Recursive(n).run(x);
    WhisperFft fft(n);
    std::vector<float> re(fft.bins()), im(fft.bins());
    fft.transform(x.data(), re.data(), im.data());
    for (int k = 0; k < fft.bins(); ++k) {
      // Bitwise: compare as floats but demand equality (+0/-0 aside).
      ASSERT_EQ(re[k], ref[2 * k]) << "n=" << n << " bin " << k;
      ASSERT_EQ(im[k], ref[2 * k + 1]) << "n=" << n << " bin " << k;
    }
  }
}

// Against an exact DFT in double: float rounding only.
TEST(WhisperFft, MatchesDoublePrecisionDft) {
  for (const int n : {1, 5, 8, 25, 400, 512, 1000}) {
    const auto x = random_signal(n, 99u + n);
    WhisperFft fft(n);
    std::vector<float> re(fft.bins()), im(fft.bins());
    fft.transform(x.data(), re.data(), im.data());
    for (int k = 0; k < fft.bins(); ++k) {
      std::complex<double> acc = 0;
      for (int j = 0; j < n; ++j)
        acc += static_cast<double>(x[j]) * std::polar(1.0, -2 * M_PI * k * j / n);
      const double tol = 2e-6 * n;  // |x| <= 1: error grows at most ~linearly with n
      EXPECT_NEAR(re[k], acc.real(), tol) << "n=" << n << " k=" << k;
      EXPECT_NEAR(im[k], acc.imag(), tol) << "n=" << n << " k=" << k;
    }
  }
}

TEST(WhisperFft, PureToneLandsInItsBin) {
  const int n = 400;
  std::vector<float> x(n);
  for (int j = 0; j < n; ++j) x[j] = static_cast<float>(std::cos(2 * M_PI * 25 * j / n));
  WhisperFft fft(n);
  std::vector<float> re(fft.bins()), im(fft.bins());
  fft.transform(x.data(), re.data(), im.data());
  for (int k = 0; k < fft.bins(); ++k) {
    const double mag = std::hypot(re[k], im[k]);
    if (k == 25) {
      EXPECT_NEAR(mag, n / 2.0, 1e-3);
    } else {
      EXPECT_LT(mag, 1e-3) << k;
    }
  }
}

TEST(WhisperFft, RejectsBadSize) {
  EXPECT_THROW(WhisperFft(0), Error);
  EXPECT_THROW(WhisperFft(-4), Error);
}

}  // namespace
}  // namespace omni::asr
