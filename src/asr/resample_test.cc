#include "asr/resample.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <span>

#include "asr/sinc_resampler.h"
#include "asr/tone_testing.h"
#include "core/error.h"

namespace omni::asr {
namespace {

using testing::fit_tone;
using testing::rms;
using testing::sine;

constexpr ResampleMethod kMethods[] = {ResampleMethod::kSinc, ResampleMethod::kSrcBest,
                                       ResampleMethod::kSrcMedium, ResampleMethod::kSrcFastest};

Audio mono(std::vector<float> x, int rate) {
  Audio a;
  a.sample_rate = rate;
  a.samples = std::move(x);
  return a;
}

// A 1 kHz tone keeps its frequency and amplitude, whatever the source rate.
TEST(Resample, ToneAt1kHzSurvivesEveryRate) {
  for (const int rate : {8000, 11025, 22050, 44100, 48000, 96000}) {
    for (const auto q : kMethods) {
      const size_t n = static_cast<size_t>(rate);  // 1 s
      const Audio out = resample(mono(sine(1000, rate, n), rate), 16000, q);
      EXPECT_EQ(out.sample_rate, 16000);
      EXPECT_NEAR(static_cast<double>(out.frames()), 16000.0, 2.0) << rate;
      const auto fit = fit_tone(out.samples, 1000, 16000, 800, 15200);
      EXPECT_NEAR(fit.amplitude, 0.5, 0.005) << rate;
      // Residual after removing the 1 kHz sinusoid: distortion and any alias or image.
      EXPECT_GT(fit.snr_db, q == ResampleMethod::kSrcFastest ? 60 : 90)
          << rate << " q" << static_cast<int>(q);
    }
  }
}

// Content above the 8 kHz output Nyquist is removed, not folded back.
TEST(Resample, NoAliasingFromAboveNyquist) {
  struct Case {
    int rate;
    double freq;  // would alias to |16000 - freq|
  };
  for (const Case c :
       {Case{48000, 11000}, Case{44100, 12000}, Case{96000, 20000}, Case{22050, 9000}}) {
    for (const auto q : kMethods) {
      const Audio out = resample(mono(sine(c.freq, c.rate, c.rate), c.rate), 16000, q);
      const double level_db =
          20 * std::log10(rms(out.samples, 800, 15200) / (0.5 / std::sqrt(2.0)));
      const double limit = q == ResampleMethod::kSrcFastest ? -80 : -100;
      EXPECT_LT(level_db, limit) << c.rate << " Hz source, " << c.freq << " Hz tone, q"
                                 << static_cast<int>(q);
    }
  }
}

// Upsampling 8 kHz telephone audio: no image at 8000 - 1000 = 7 kHz.
TEST(Resample, NoImagingWhenUpsampling) {
  const Audio out = resample(mono(sine(1000, 8000, 8000), 8000), 16000);
  const auto image = fit_tone(out.samples, 7000, 16000, 800, 15200);
  EXPECT_LT(image.amplitude, 0.5e-5);
}

// SNR against the analytically resampled sweep; prints the figures recorded in the docs.
TEST(Resample, SweepSnrFigures) {
  const int in_rate = 48000, out_rate = 16000;
  const double secs = 2.0, f0 = 50;
  const auto sweep_at = [&](double rate, double f1) {
    const size_t n = static_cast<size_t>(secs * rate);
    std::vector<float> x(n);
    const double k = (f1 - f0) / secs;
    for (size_t i = 0; i < n; ++i) {
      const double t = i / rate;
      x[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * (f0 * t + 0.5 * k * t * t)));
    }
    return x;
  };
  const char* names[] = {"own sinc", "libsamplerate best", "libsamplerate medium",
                         "libsamplerate fastest"};
  // Up to 7 kHz (88% of the output Nyquist) and up to 4 kHz (the speech band). libsamplerate's
  // fastest converter rolls off early, so it only meets the 4 kHz figure well.
  const double min_snr[2][4] = {{90, 120, 75, 15}, {90, 120, 75, 60}};
  for (int band = 0; band < 2; ++band) {
    const double f1 = band == 0 ? 7000 : 4000;
    const auto in = sweep_at(in_rate, f1), want = sweep_at(out_rate, f1);
    for (int qi = 0; qi < 4; ++qi) {
      const Audio out = resample(mono(in, in_rate), out_rate, kMethods[qi]);
      double sig = 0, err = 0;
      for (size_t i = 800; i < want.size() - 800; ++i) {
        sig += double{want[i]} * want[i];
        err += (double{out.samples[i]} - want[i]) * (double{out.samples[i]} - want[i]);
      }
      const double snr = 10 * std::log10(sig / err);
      std::printf("sweep 50 Hz..%.0f Hz, 48 kHz -> 16 kHz, %s: SNR %.1f dB\n", f1, names[qi], snr);
      EXPECT_GT(snr, min_snr[band][qi]) << names[qi];
    }
  }
}

TEST(Resample, MultichannelAndPassThrough) {
  Audio st;
  st.sample_rate = 32000;
  st.channels = 2;
  const auto l = sine(500, 32000, 3200), r = sine(1500, 32000, 3200, 0.25);
  for (size_t i = 0; i < l.size(); ++i) st.samples.push_back(l[i]), st.samples.push_back(r[i]);
  const Audio out = resample(st, 16000);
  EXPECT_EQ(out.channels, 2);
  std::vector<float> left, right;
  for (size_t i = 0; i < out.frames(); ++i)
    left.push_back(out.samples[2 * i]), right.push_back(out.samples[2 * i + 1]);
  EXPECT_NEAR(fit_tone(left, 500, 16000, 100, 1500).amplitude, 0.5, 0.005);
  EXPECT_NEAR(fit_tone(right, 1500, 16000, 100, 1500).amplitude, 0.25, 0.005);

  const Audio whisper = to_whisper_input(st);
  EXPECT_EQ(whisper.channels, 1);
  EXPECT_EQ(whisper.sample_rate, 16000);
  EXPECT_NEAR(fit_tone(whisper.samples, 500, 16000, 100, 1500).amplitude, 0.25, 0.005);

  const Audio same = mono({0.1f, 0.2f}, 16000);
  EXPECT_EQ(resample(same, 16000).samples, same.samples);
  EXPECT_EQ(resample(mono({}, 44100), 16000).frames(), 0u);
}

TEST(SincResampler, GeometryAndDcGain) {
  const SincResampler a(44100, 16000);
  EXPECT_EQ(a.phases(), 160);  // 16000/44100 = 160/441
  EXPECT_EQ(a.taps() % 8, 0);
  EXPECT_EQ(SincResampler(48000, 16000).phases(), 1);
  EXPECT_TRUE(SincResampler::supports(22050, 16000));
  EXPECT_FALSE(SincResampler::supports(44100, 16001));
  EXPECT_THROW(SincResampler(44100, 16001), Error);
  EXPECT_THROW(SincResampler(48000, 16000, 10.0), Error);
  // A constant comes out as the same constant once the filter is fully inside the signal.
  const std::vector<float> ones(44100, 0.75f);
  const auto y = a.process(ones);
  EXPECT_EQ(y.size(), 16000u);
  for (size_t i = 200; i < y.size() - 200; ++i) ASSERT_NEAR(y[i], 0.75f, 2e-6) << i;
  EXPECT_TRUE(SincResampler(8000, 16000).process({}).empty());
}

// Pieces of any size give exactly the whole-signal result.
TEST(SincResampler, StreamEqualsWholeSignal) {
  std::mt19937 rng(17);
  std::normal_distribution<float> g(0.0f, 0.2f);
  for (const auto& [in_rate, out_rate] : {std::pair{44100, 16000}, std::pair{48000, 16000},
                                          std::pair{8000, 16000}, std::pair{22050, 16000}}) {
    SCOPED_TRACE(in_rate);
    std::vector<float> x(static_cast<size_t>(in_rate / 2));
    for (auto& v : x) v = g(rng);
    const auto whole = SincResampler(in_rate, out_rate).process(x);
    SincResamplerStream stream(in_rate, out_rate);
    std::vector<float> pieces;
    size_t pos = 0;
    while (pos < x.size()) {
      const size_t n = std::min<size_t>(x.size() - pos, rng() % 3000);  // includes empty pushes
      const auto y = stream.push(std::span<const float>(x).subspan(pos, n));
      pieces.insert(pieces.end(), y.begin(), y.end());
      pos += n;
    }
    const auto tail = stream.finish();
    EXPECT_LT(tail.size(), 400u);  // latency: about half the filter
    pieces.insert(pieces.end(), tail.begin(), tail.end());
    ASSERT_EQ(pieces.size(), whole.size());
    EXPECT_EQ(pieces, whole);
    EXPECT_THROW(stream.push(x), Error);
    EXPECT_THROW(stream.finish(), Error);
  }
  SincResamplerStream empty(48000, 16000);
  EXPECT_TRUE(empty.finish().empty());
}

// Rates with too many phases fall back to libsamplerate and still convert properly.
TEST(Resample, SincFallsBackForOddRates) {
  const Audio out = resample(mono(sine(1000, 44100, 44100), 44100), 16001);
  EXPECT_EQ(out.sample_rate, 16001);
  EXPECT_NEAR(fit_tone(out.samples, 1000, 16001, 800, 15200).amplitude, 0.5, 0.005);
}

TEST(Resample, RejectsImpossibleRatios) {
  EXPECT_THROW(resample(mono({0.0f}, 16000), 16000 * 300), Error);
  EXPECT_THROW(resample(mono({0.0f}, 0), 16000), Error);
  EXPECT_THROW(resample(mono({0.0f}, 16000), 0), Error);
}

}  // namespace
}  // namespace omni::asr
