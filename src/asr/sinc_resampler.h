// Our own windowed-sinc resampler for rational ratios (polyphase FIR, Kaiser window). For the
// rates audio actually comes in (8/11.025/22.05/32/44.1/48/96 kHz -> 16 kHz) the ratio L/M
// reduces to few phases, and one dot product per output sample is much cheaper than
// libsamplerate's general converters at similar quality (figures: resample_test.cc,
// bench/resample_bench.cc).
#pragma once

#include <span>
#include <vector>

namespace omni::asr {

class SincResampler {
 public:
  // Phases above this (out_rate / gcd) make the table too big; use libsamplerate instead.
  static constexpr int kMaxPhases = 4096;

  // stopband_db: attenuation of everything above the lower Nyquist frequency (aliases and
  // images). The passband is flat to `passband` x that Nyquist frequency.
  SincResampler(int in_rate, int out_rate, double stopband_db = 100.0, double passband = 0.9);

  // True if (in_rate, out_rate) reduce to at most kMaxPhases phases.
  static bool supports(int in_rate, int out_rate);

  int phases() const { return l_; }
  int taps() const { return taps_; }  // per output sample

  // One channel, whole signal (zeros assumed outside). Output length ceil(n * out / in); output
  // sample i sits at input time i * in / out (no delay).
  std::vector<float> process(std::span<const float> in) const;

 private:
  int l_ = 1, m_ = 1;        // out/in = L/M, reduced
  int half_ = 0;             // taps reach input samples base - half_ + 1 .. base + half_
  int taps_ = 0;             // 2 * half_, rounded up to a multiple of 8 (zero taps)
  std::vector<float> coef_;  // [phase][tap]
};

}  // namespace omni::asr
