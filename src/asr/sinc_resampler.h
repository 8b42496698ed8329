// Our own windowed-sinc resampler for rational ratios (polyphase FIR, Kaiser window). For the
// rates audio actually comes in (8/11.025/22.05/32/44.1/48/96 kHz -> 16 kHz) the ratio L/M
// reduces to few phases, and one dot product per output sample is much cheaper than
// libsamplerate's general converters at similar quality (figures: resample_test.cc,
// bench/resample_bench.cc).
#pragma once

#include <cstdint>
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
  friend class SincResamplerStream;
  // Output sample i from the zero-padded input (padded[j] = input[j - lead()]); `at_base` points
  // at padded[i * M / L] and taps() values from there are read.
  float output(const float* at_base, int64_t i) const;
  int64_t base(int64_t i) const { return i * m_ / l_; }
  int64_t lead() const { return half_ - 1; }

  int l_ = 1, m_ = 1;        // out/in = L/M, reduced
  int half_ = 0;             // taps reach input samples base - half_ + 1 .. base + half_
  int taps_ = 0;             // 2 * half_, rounded up to a multiple of 8 (zero taps)
  std::vector<float> coef_;  // [phase][tap]
};

// The same conversion over input arriving in pieces (a microphone, a network stream): the
// concatenated output equals SincResampler::process on the whole input, bit for bit. Output lags
// input by about taps() / 2 input samples (the filter's reach into the future).
class SincResamplerStream {
 public:
  SincResamplerStream(int in_rate, int out_rate);

  // Appends input; returns every output sample that later input can no longer change.
  std::vector<float> push(std::span<const float> in);
  // End of input: the remaining output. Afterwards push/finish throw omni::Error.
  std::vector<float> finish();

 private:
  void emit(std::vector<float>& out, int64_t limit);

  SincResampler rs_;
  std::vector<float> buf_;  // padded input, starting at padded index dropped_
  int64_t dropped_ = 0;
  int64_t received_ = 0;
  int64_t next_out_ = 0;
  bool finished_ = false;
};

}  // namespace omni::asr
