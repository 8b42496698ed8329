#include "asr/sinc_resampler.h"

#include <cmath>
#include <numeric>

#include "core/error.h"

namespace omni::asr {
namespace {

double bessel_i0(double x) {
  // Power series; converges fast for the beta values a Kaiser window uses (< 15).
  double sum = 1, term = 1;
  for (int k = 1; k < 64; ++k) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

typedef float F4 __attribute__((vector_size(16)));

F4 load4(const float* p) {
  F4 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

// Dot product of n (multiple of 8) floats with two 4-lane accumulators.
float dot(const float* a, const float* b, int n) {
  F4 s0 = {}, s1 = {};
  for (int i = 0; i < n; i += 8) {
    s0 += load4(a + i) * load4(b + i);
    s1 += load4(a + i + 4) * load4(b + i + 4);
  }
  const F4 s = s0 + s1;
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

bool SincResampler::supports(int in_rate, int out_rate) {
  if (in_rate <= 0 || out_rate <= 0) return false;
  return out_rate / std::gcd(in_rate, out_rate) <= kMaxPhases;
}

SincResampler::SincResampler(int in_rate, int out_rate, double stopband_db, double passband) {
  if (!supports(in_rate, out_rate)) {
    throw Error("SincResampler: " + std::to_string(in_rate) + " Hz -> " + std::to_string(out_rate) +
                " Hz needs more than " + std::to_string(kMaxPhases) + " phases");
  }
  if (!(stopband_db >= 20 && stopband_db <= 200) || !(passband > 0.5 && passband < 1)) {
    throw Error("SincResampler: stopband must be 20..200 dB and passband 0.5..1");
  }
  const int g = std::gcd(in_rate, out_rate);
  l_ = out_rate / g;
  m_ = in_rate / g;
  // Everything in input-sample units. The filter must pass up to passband * nyq and stop from
  // nyq on, nyq being the lower of the two Nyquist frequencies.
  const double nyq = 0.5 * std::min(in_rate, out_rate) / in_rate;  // cycles per input sample
  const double cutoff = 0.5 * (1 + passband) * nyq;
  const double transition = (1 - passband) * nyq;
  // Kaiser's estimates for the window length and shape.
  const double a = stopband_db;
  const double beta =
      a > 50 ? 0.1102 * (a - 8.7) : 0.5842 * std::pow(a - 21, 0.4) + 0.07886 * (a - 21);
  const double length = (a - 7.95) / (2.285 * 2 * M_PI * transition) + 1;
  half_ = static_cast<int>(std::ceil(length / 2));
  taps_ = (2 * half_ + 7) / 8 * 8;
  coef_.assign(static_cast<size_t>(l_) * taps_, 0.0f);
  const double i0_beta = bessel_i0(beta);
  for (int p = 0; p < l_; ++p) {
    // Output at input time base + p/L uses x[base + d], d = -half_+1 .. half_: kernel at p/L - d.
    std::vector<double> c(2 * half_);
    double sum = 0;
    for (int t = 0; t < 2 * half_; ++t) {
      const int d = t - half_ + 1;
      const double tau = static_cast<double>(p) / l_ - d;
      const double x = 2 * cutoff * tau;
      const double sinc = x == 0 ? 1.0 : std::sin(M_PI * x) / (M_PI * x);
      const double r = tau / half_;
      const double w = std::fabs(r) >= 1 ? 0.0 : bessel_i0(beta * std::sqrt(1 - r * r)) / i0_beta;
      c[t] = 2 * cutoff * sinc * w;
      sum += c[t];
    }
    // Unit DC gain in every phase: no ripple at the phase rate on constant input.
    for (int t = 0; t < 2 * half_; ++t) {
      coef_[static_cast<size_t>(p) * taps_ + t] = static_cast<float>(c[t] / sum);
    }
  }
}

float SincResampler::output(const float* at_base, int64_t i) const {
  const int phase = static_cast<int>((i * m_) % l_);
  return dot(at_base, &coef_[static_cast<size_t>(phase) * taps_], taps_);
}

std::vector<float> SincResampler::process(std::span<const float> in) const {
  const int64_t n_in = static_cast<int64_t>(in.size());
  const int64_t n_out = (n_in * l_ + m_ - 1) / m_;
  std::vector<float> out(static_cast<size_t>(n_out));
  // Zero-padded copy so every dot product reads in bounds without branches.
  const int64_t lead = half_ - 1;
  std::vector<float> x(static_cast<size_t>(n_in + lead + taps_ + 1), 0.0f);
  std::copy(in.begin(), in.end(), x.begin() + lead);
  for (int64_t i = 0; i < n_out; ++i) {
    // x[base + d] for d = -half_+1.. lives at padded index base + d + lead = base + t.
    out[static_cast<size_t>(i)] = output(&x[static_cast<size_t>(base(i))], i);
  }
  return out;
}

SincResamplerStream::SincResamplerStream(int in_rate, int out_rate)
    : rs_(in_rate, out_rate), buf_(static_cast<size_t>(rs_.lead()), 0.0f) {}

// Emits outputs next_out_ .. while their taps lie inside the padded samples held (< limit,
// an absolute padded index), then forgets input no later output reads.
void SincResamplerStream::emit(std::vector<float>& out, int64_t limit) {
  for (;; ++next_out_) {
    const int64_t b = rs_.base(next_out_);
    if (b + rs_.taps_ > limit) break;
    out.push_back(rs_.output(&buf_[static_cast<size_t>(b - dropped_)], next_out_));
  }
  const int64_t keep_from = rs_.base(next_out_);
  if (keep_from - dropped_ > 4096) {
    buf_.erase(buf_.begin(), buf_.begin() + (keep_from - dropped_));
    dropped_ = keep_from;
  }
}

std::vector<float> SincResamplerStream::push(std::span<const float> in) {
  if (finished_) throw Error("SincResamplerStream: push after finish");
  buf_.insert(buf_.end(), in.begin(), in.end());
  received_ += static_cast<int64_t>(in.size());
  std::vector<float> out;
  emit(out, rs_.lead() + received_);
  return out;
}

std::vector<float> SincResamplerStream::finish() {
  if (finished_) throw Error("SincResamplerStream: finish called twice");
  finished_ = true;
  // As process(): zeros after the end, and ceil(n * L / M) outputs in total.
  buf_.insert(buf_.end(), static_cast<size_t>(rs_.taps_ + 1), 0.0f);
  const int64_t n_out = (received_ * rs_.l_ + rs_.m_ - 1) / rs_.m_;
  std::vector<float> out;
  for (; next_out_ < n_out; ++next_out_) {
    out.push_back(
        rs_.output(&buf_[static_cast<size_t>(rs_.base(next_out_) - dropped_)], next_out_));
  }
  return out;
}

}  // namespace omni::asr
