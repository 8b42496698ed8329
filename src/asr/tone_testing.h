// Test helpers for tone-based audio checks (resampling, lossy codecs).
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace omni::asr::testing {

inline std::vector<float> sine(double freq, double rate, size_t n, double amp = 0.5) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(amp * std::sin(2 * M_PI * freq * i / rate));
  return x;
}

struct ToneFit {
  double amplitude = 0;  // of the best-fitting sinusoid at the probe frequency
  double snr_db = 0;     // its energy over the residual's
};

// Least-squares fit of a*cos + b*sin at `freq` over x[begin, end) (any phase / delay).
inline ToneFit fit_tone(const std::vector<float>& x, double freq, double rate, size_t begin,
                        size_t end) {
  double cc = 0, ss = 0, cs = 0, xc = 0, xs = 0;
  for (size_t i = begin; i < end; ++i) {
    const double c = std::cos(2 * M_PI * freq * i / rate), s = std::sin(2 * M_PI * freq * i / rate);
    cc += c * c, ss += s * s, cs += c * s, xc += x[i] * c, xs += x[i] * s;
  }
  const double det = cc * ss - cs * cs;
  const double a = (xc * ss - xs * cs) / det, b = (xs * cc - xc * cs) / det;
  double sig = 0, res = 0;
  for (size_t i = begin; i < end; ++i) {
    const double m =
        a * std::cos(2 * M_PI * freq * i / rate) + b * std::sin(2 * M_PI * freq * i / rate);
    sig += m * m;
    res += (x[i] - m) * (x[i] - m);
  }
  return {std::hypot(a, b), 10 * std::log10(sig / std::max(res, 1e-300))};
}

inline double rms(const std::vector<float>& x, size_t begin, size_t end) {
  double e = 0;
  for (size_t i = begin; i < end; ++i) e += double{x[i]} * x[i];
  return std::sqrt(e / static_cast<double>(end - begin));
}

}  // namespace omni::asr::testing
