#include "asr/mel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "asr/wav.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

// Until the whisper ggml reader lands: the filter bank sits right after the magic and the 11
// int32 hparams: n_mel, n_fft, then n_mel * n_fft float32 (README of refdata/asr).
MelFilterBank filters_from_model(const std::string& path) {
  const auto bytes = omni::testing::read_file(path);
  int32_t head[2];
  EXPECT_GE(bytes.size(), 56u);
  std::memcpy(head, bytes.data() + 48, sizeof head);
  MelFilterBank fb;
  fb.n_mel = head[0];
  fb.n_fft = head[1];
  const size_t count = static_cast<size_t>(fb.n_mel) * fb.n_fft;
  EXPECT_LE(56 + count * 4, bytes.size());
  fb.data.resize(count);
  std::memcpy(fb.data.data(), bytes.data() + 56, count * 4);
  return fb;
}

MelFilterBank model_filters() {
  return filters_from_model(omni::testing::refdata("asr/models/ggml-micro-random-f16.bin"));
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
    LogMelOptions opt;
    opt.n_threads = threads;
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
    std::printf("jfk log-mel vs whisper.cpp, %d threads: max abs diff %.3g, %zu of %zu values differ\n",
                threads, d.max_abs, d.differing, golden.size());
  }
}
}  // namespace
}  // namespace omni::asr
