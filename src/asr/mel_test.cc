#include "asr/mel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "asr/wav.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

MelFilterBank model_filters() {
  return ggml::File::open(omni::testing::refdata("asr/models/ggml-micro-random-f16.bin"))
      .mel_filters();
}

struct Diff {
  double max_abs = 0;
  size_t differing = 0;
};
Diff compare(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(static_cast<double>(a[i]) - b[i]);
    d.max_abs = std::max(d.max_abs, e);
    d.differing += a[i] != b[i];
  }
  return d;
}

// The golden: whisper.cpp's own log-mel of jfk.wav (80 x 4100).
TEST(LogMel, JfkMatchesWhisperCpp) {
  const Audio audio = read_wav_file(omni::testing::refdata("asr/audio/jfk.wav"));
  ASSERT_EQ(audio.sample_rate, 16000);
  ASSERT_EQ(audio.frames(), 176000u);
  const auto golden = omni::testing::read_f32(omni::testing::refdata("asr/golden/jfk_logmel.f32"));
  ASSERT_EQ(golden.size(), 80u * 4100u);
  for (const int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    LogMelOptions opt;
    opt.pool = &pool;
    const LogMel mel = log_mel_spectrogram(audio.samples, model_filters(), opt);
    ASSERT_EQ(mel.n_mel, 80);
    ASSERT_EQ(mel.n_len, 4100);
    EXPECT_EQ(mel.n_len_org, 1099);
    const Diff d = compare(mel.data, golden);
    EXPECT_LE(d.max_abs, 1e-4) << threads << " threads";
#if defined(__x86_64__)
    // Same float operations in the same order as whisper.cpp (built without FMA): bit-identical.
    EXPECT_EQ(d.differing, 0u) << threads << " threads";
#endif
    RecordProperty("max_abs_diff", std::to_string(d.max_abs));
    std::printf(
        "jfk log-mel vs whisper.cpp, %d threads: max abs diff %.3g, %zu of %zu values differ\n",
        threads, d.max_abs, d.differing, golden.size());
  }
}

// Our librosa-style bank against the one whisper.cpp models carry (OpenAI's mel_filters.npz).
TEST(MelFilters, SlaneyBankMatchesModelFile) {
  const MelFilterBank model = model_filters();
  ASSERT_EQ(model.n_mel, 80);
  ASSERT_EQ(model.n_fft, 201);
  const MelFilterBank ours = slaney_mel_filters(80);
  ASSERT_EQ(ours.n_mel, 80);
  ASSERT_EQ(ours.n_fft, 201);
  double max_abs = 0, max_val = 0;
  size_t differing = 0;
  for (size_t i = 0; i < ours.data.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(double{ours.data[i]} - model.data[i]));
    max_val = std::max<double>(max_val, model.data[i]);
    differing += ours.data[i] != model.data[i];
    EXPECT_EQ(ours.data[i] == 0.0f, model.data[i] == 0.0f) << i;  // same triangle supports
  }
  std::printf(
      "slaney 80-bin bank vs model file: max abs diff %.3g (max value %.3g), %zu of %zu differ\n",
      max_abs, max_val, differing, ours.data.size());
  EXPECT_LE(max_abs, 1e-6 * max_val);
}

// large-v3's 128-bin bank: shape, and triangles in increasing order that cover the band.
TEST(MelFilters, Slaney128Shape) {
  const MelFilterBank fb = slaney_mel_filters(128);
  ASSERT_EQ(fb.n_mel, 128);
  ASSERT_EQ(fb.n_fft, 201);
  ASSERT_EQ(fb.data.size(), 128u * 201u);
  int prev_peak = -1;
  for (int j = 0; j < 128; ++j) {
    const float* w = &fb.data[static_cast<size_t>(j) * 201];
    int peak = 0;
    for (int k = 0; k < 201; ++k) {
      EXPECT_GE(w[k], 0.0f);
      if (w[k] > w[peak]) peak = k;
    }
    EXPECT_GT(w[peak], 0.0f) << "empty filter " << j;
    EXPECT_GE(peak, prev_peak) << j;
    prev_peak = peak;
  }
  EXPECT_GT(prev_peak, 180);  // the top filter sits near 8 kHz
}

// Independent reference for any bank: float64 DFT of the same frames, float64 filter sums.
std::vector<double> reference_log10(const std::vector<float>& x, const MelFilterBank& fb,
                                    int frame) {
  const int n = static_cast<int>(x.size());
  std::vector<double> power(201);
  for (int k = 0; k <= 200; ++k) {
    double re = 0, im = 0;
    for (int t = 0; t < 400; ++t) {
      const int64_t pos = int64_t{frame} * 160 + t - 200;  // reflect in front, zeros behind
      const int64_t src = pos < 0 ? -pos : pos;
      const double v = src < n ? x[static_cast<size_t>(src)] : 0.0;
      const double w = 0.5 * (1 - std::cos(2 * M_PI * t / 400));
      re += v * w * std::cos(2 * M_PI * k * t / 400);
      im -= v * w * std::sin(2 * M_PI * k * t / 400);
    }
    power[k] = re * re + im * im;
  }
  std::vector<double> out(fb.n_mel);
  for (int j = 0; j < fb.n_mel; ++j) {
    double s = 0;
    for (int k = 0; k < 201; ++k) s += power[k] * fb.data[static_cast<size_t>(j) * 201 + k];
    out[j] = std::log10(std::max(s, 1e-10));
  }
  return out;
}

TEST(LogMel, Bank128AgainstFloat64Reference) {
  const Audio audio = read_wav_file(omni::testing::refdata("asr/audio/jfk.wav"));
  const std::vector<float> x(audio.samples.begin(), audio.samples.begin() + 32000);  // 2 s
  const MelFilterBank fb = slaney_mel_filters(128);
  LogMelOptions opt;
  opt.normalize = false;
  ThreadPool pool(2);
  opt.pool = &pool;
  const LogMel mel = log_mel_spectrogram(x, fb, opt);
  ASSERT_EQ(mel.n_mel, 128);
  ASSERT_EQ(mel.n_len, (32000 + 480000) / 160);
  ASSERT_EQ(mel.data.size(), 128u * mel.n_len);
  // Whisper's normalisation floors everything at max - 8; below that (powers ~1e-9 of the
  // peak) float32 FFT rounding dominates and nothing downstream sees it.
  const double floor = *std::max_element(mel.data.begin(), mel.data.end()) - 8.0;
  double max_abs = 0;
  for (const int frame : {0, 1, 57, 100, 150, 199, 200}) {
    const auto ref = reference_log10(x, fb, frame);
    for (int j = 0; j < 128; ++j) {
      const double e =
          std::fabs(std::max<double>(mel.at(j, frame), floor) - std::max(ref[j], floor));
      max_abs = std::max(max_abs, e);
    }
  }
  std::printf("128-bin log10 (floored at max-8) vs float64 reference: max abs diff %.3g\n",
              max_abs);
  EXPECT_LE(max_abs, 1e-4);
}

// The code path is the same for any n_mel: a 128-row bank whose first 80 rows are the model's
// 80 filters yields exactly the 80-bin values in those rows.
TEST(LogMel, Rows80Of128EqualThe80BinRun) {
  const Audio audio = read_wav_file(omni::testing::refdata("asr/audio/pocketsphinx_goforward.wav"));
  const MelFilterBank f80 = model_filters();
  MelFilterBank f128 = slaney_mel_filters(128);
  std::copy(f80.data.begin(), f80.data.end(), f128.data.begin());
  LogMelOptions opt;
  opt.normalize = false;
  const LogMel a = log_mel_spectrogram(audio.samples, f80, opt);
  ThreadPool pool(2);
  opt.pool = &pool;
  const LogMel b = log_mel_spectrogram(audio.samples, f128, opt);
  ASSERT_EQ(a.n_len, b.n_len);
  for (int j = 0; j < 80; ++j) {
    for (int i = 0; i < a.n_len; ++i) ASSERT_EQ(a.at(j, i), b.at(j, i)) << j << "," << i;
  }
}

TEST(LogMel, FrameCountsFollowWhisperCpp) {
  const MelFilterBank fb = model_filters();
  for (const int n : {0, 1, 150, 200, 201, 399, 400, 401, 16000, 16001}) {
    std::vector<float> x(static_cast<size_t>(n), 0.25f);
    const LogMel mel = log_mel_spectrogram(x, fb);
    EXPECT_EQ(mel.n_len, (n + 480000) / 160) << n;
    EXPECT_EQ(mel.n_len_org, 1 + (n + 200 - 400) / 160) << n;
    EXPECT_EQ(mel.data.size(), 80u * mel.n_len);
    for (const float v : mel.data) ASSERT_TRUE(std::isfinite(v));
  }
  LogMelOptions opt;
  opt.pad_samples = 0;
  std::vector<float> x(16000, 0.1f);
  EXPECT_EQ(log_mel_spectrogram(x, fb, opt).n_len, 100);
}

TEST(LogMel, SilenceIsFlat) {
  const std::vector<float> x(8000, 0.0f);
  const LogMel mel = log_mel_spectrogram(x, model_filters());
  // All log10 values are -10 -> max-8 floor = -18 is below them -> (v + 4) / 4 = -1.5.
  for (const float v : mel.data) ASSERT_EQ(v, -1.5f);
}

TEST(LogMel, NonFiniteSamplesCountAsZero) {
  std::vector<float> x(4000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.3 * std::sin(i * 0.05));
  std::vector<float> bad = x;
  bad[1000] = std::numeric_limits<float>::quiet_NaN();
  bad[2000] = std::numeric_limits<float>::infinity();
  x[1000] = 0;
  x[2000] = 0;
  const MelFilterBank fb = model_filters();
  EXPECT_EQ(log_mel_spectrogram(bad, fb).data, log_mel_spectrogram(x, fb).data);
}

TEST(LogMel, RejectsMalformedFilterBank) {
  const std::vector<float> x(1000, 0.0f);
  MelFilterBank fb = model_filters();
  fb.n_fft = 200;
  EXPECT_THROW(log_mel_spectrogram(x, fb), Error);
  fb = model_filters();
  fb.data.pop_back();
  EXPECT_THROW(log_mel_spectrogram(x, fb), Error);
  fb = MelFilterBank{};
  EXPECT_THROW(log_mel_spectrogram(x, fb), Error);
}

}  // namespace
}  // namespace omni::asr

namespace omni::asr {
namespace {

// Growing and trimming a buffer in uneven pieces gives the batch spectrogram bit for bit.
TEST(StreamingLogMel, EqualsBatchWhileGrowingAndTrimming) {
  const Audio audio = read_wav_file(omni::testing::refdata("asr/audio/jfk.wav"));
  const MelFilterBank filters = model_filters();
  ThreadPool pool(2);
  StreamingLogMel sm(filters);
  std::vector<float> buffer;
  std::mt19937 rng(7);
  size_t pos = 0;
  int checks = 0;
  const auto check = [&](const char* what) {
    const LogMel a = sm.mel(&pool);
    const LogMel b = log_mel_spectrogram(buffer, filters);
    ASSERT_EQ(a.n_len, b.n_len) << what << " at " << buffer.size();
    ASSERT_EQ(a.n_len_org, b.n_len_org) << what;
    EXPECT_EQ(compare(a.data, b.data).differing, 0u) << what << " at " << buffer.size();
    ++checks;
  };
  // Starts with pieces shorter than the 200-sample reflection.
  for (const size_t len : {50u, 120u, 90u, 1u, 400u}) {
    sm.append(std::span(audio.samples).subspan(pos, len), &pool);
    buffer.insert(buffer.end(), audio.samples.begin() + static_cast<std::ptrdiff_t>(pos),
                  audio.samples.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
    check("append");
  }
  while (pos < audio.samples.size()) {
    const size_t len = std::min<size_t>(audio.samples.size() - pos, 700 + rng() % 9000);
    sm.append(std::span(audio.samples).subspan(pos, len), nullptr);
    buffer.insert(buffer.end(), audio.samples.begin() + static_cast<std::ptrdiff_t>(pos),
                  audio.samples.begin() + static_cast<std::ptrdiff_t>(pos + len));
    pos += len;
    check("append");
    if (rng() % 3 == 0 && buffer.size() > 20000) {
      // Whole hops (the streaming cut) and, now and then, an odd cut.
      const int64_t cut = rng() % 4 == 0 ? 3001 : 160 * (10 + rng() % 60);
      sm.drop_front(cut, &pool);
      buffer.erase(buffer.begin(), buffer.begin() + cut);
      check("drop_front");
    }
  }
  sm.drop_front(static_cast<int64_t>(buffer.size()) - 100, nullptr);
  buffer.erase(buffer.begin(), buffer.end() - 100);
  check("short tail");
  EXPECT_GT(checks, 20);
}

}  // namespace
}  // namespace omni::asr
