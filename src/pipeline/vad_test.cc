#include "pipeline/vad.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "asr/audio_io.h"
#include "asr/tone_testing.h"
#include "core/error.h"
#include "testing/refdata.h"

namespace omni::pipeline {
namespace {

std::vector<VadEvent> run_vad(const std::vector<float>& x, size_t block, VadOptions o = {}) {
  Vad v(o);
  std::vector<VadEvent> ev;
  for (size_t i = 0; i < x.size(); i += block) {
    auto e = v.feed(std::span<const float>(x).subspan(i, std::min(block, x.size() - i)));
    ev.insert(ev.end(), e.begin(), e.end());
  }
  auto e = v.finish();
  ev.insert(ev.end(), e.begin(), e.end());
  return ev;
}

std::vector<float> load16k(const std::string& rel) {
  const asr::Audio a = asr::load_audio_file(testing::refdata(rel));
  EXPECT_EQ(a.sample_rate, 16000);
  EXPECT_EQ(a.channels, 1);
  return a.samples;
}

TEST(Vad, FrameFeatures) {
  const auto tone = asr::testing::sine(200, 16000, 320, 0.1);
  const VadFrame f = vad_frame_features(tone);
  EXPECT_NEAR(f.energy_db, 20 * std::log10(0.1 / std::sqrt(2.0)), 0.1);
  EXPECT_NEAR(f.zcr, 2.0 * 200 / 16000, 0.01);
  const std::vector<float> zeros(320, 0.0f);
  EXPECT_LT(vad_frame_features(zeros).energy_db, -150);
}

TEST(Vad, ToneBurstGivesOneSegmentWithHangover) {
  // 0.5 s silence, 0.6 s of a 150 Hz tone at -20 dBFS, 1 s silence.
  std::vector<float> x(8000, 0.0f);
  const auto tone = asr::testing::sine(150, 16000, 9600, 0.1414);
  x.insert(x.end(), tone.begin(), tone.end());
  x.resize(x.size() + 16000, 0.0f);
  for (size_t block : {1u, 160u, 333u, 16000u}) {
    const auto ev = run_vad(x, block);
    ASSERT_EQ(ev.size(), 2u) << block;
    EXPECT_EQ(ev[0].kind, VadEvent::kSpeechStart);
    EXPECT_NEAR(ev[0].t_s, 0.5, 0.021);
    EXPECT_NEAR(ev[0].detected_s, 0.5 + 0.06, 0.021);
    EXPECT_EQ(ev[1].kind, VadEvent::kSpeechEnd);
    EXPECT_NEAR(ev[1].t_s, 1.1, 0.021);
    EXPECT_NEAR(ev[1].detected_s, 1.1 + 0.4, 0.021);
  }
}

TEST(Vad, SilenceAndWhiteNoiseAreNotSpeech) {
  EXPECT_TRUE(run_vad(load16k("vad/audio/silence_2s.wav"), 320).empty());
  EXPECT_TRUE(run_vad(load16k("vad/audio/white_noise_-30dBFS_2s.wav"), 320).empty());
}

TEST(Vad, ShortClickIsNotSpeech) {
  std::vector<float> x(16000, 0.0f);
  for (size_t i = 8000; i < 8000 + 320; ++i) x[i] = 0.5f * std::sin(i * 0.05f);  // 20 ms
  EXPECT_TRUE(run_vad(x, 160).empty());
}

TEST(Vad, SpeechThenSilenceEndsNearTheLastWord) {
  // Silero (refdata vad/golden) puts the speech of goforward at 0.48-2.30 s.
  auto x = load16k("asr/audio/pocketsphinx_goforward.wav");
  const double dur = static_cast<double>(x.size()) / 16000;
  x.resize(x.size() + 24000, 0.0f);  // 1.5 s of silence after it
  Vad v;
  std::vector<VadEvent> ev;
  for (size_t i = 0; i < x.size(); i += 320) {
    auto e = v.feed(std::span<const float>(x).subspan(i, std::min<size_t>(320, x.size() - i)));
    ev.insert(ev.end(), e.begin(), e.end());
  }
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev.front().kind, VadEvent::kSpeechStart);
  EXPECT_NEAR(ev.front().t_s, 0.48, 0.25);
  EXPECT_EQ(ev.back().kind, VadEvent::kSpeechEnd);
  EXPECT_NEAR(ev.back().t_s, 2.30, 0.3);
  EXPECT_LT(ev.back().detected_s, dur + 1.5);  // decided inside the appended silence
  EXPECT_FALSE(v.in_speech());
  // The same on jfk: first speech near Silero's 0.32 s, last end near its 10.62 s.
  auto j = load16k("asr/audio/jfk.wav");
  j.resize(j.size() + 16000, 0.0f);
  const auto ej = run_vad(j, 480);
  ASSERT_GE(ej.size(), 2u);
  EXPECT_NEAR(ej.front().t_s, 0.32, 0.25);
  EXPECT_NEAR(ej.back().t_s, 10.62, 0.4);
}

TEST(Vad, BadOptions) {
  VadOptions o;
  o.sample_rate = 0;
  EXPECT_THROW(Vad{o}, Error);
  o.sample_rate = 16000;
  o.frame_ms = 0;
  EXPECT_THROW(Vad{o}, Error);
}

}  // namespace
}  // namespace omni::pipeline
