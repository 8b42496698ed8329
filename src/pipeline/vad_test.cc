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

// Speculative end of speech: a pause inside speech is reported after pause_ms, a resume when the
// speech comes back, and the end (after the hangover) only once the silence lasts.
TEST(Vad, PauseThenResumeThenPauseThenEnd) {
  // 0.5 s silence, 0.5 s tone, 0.3 s gap, 0.5 s tone, 0.1 s gap, 0.3 s tone, 1 s silence.
  const auto tone = [](size_t n) { return asr::testing::sine(150, 16000, n, 0.1414); };
  std::vector<float> x(8000, 0.0f);
  auto add = [&](std::vector<float> v) { x.insert(x.end(), v.begin(), v.end()); };
  add(tone(8000));
  x.resize(x.size() + 4800, 0.0f);
  add(tone(8000));
  x.resize(x.size() + 1600, 0.0f);
  add(tone(4800));
  x.resize(x.size() + 16000, 0.0f);
  VadOptions o;
  o.hangover_ms = 600;
  o.pause_ms = 200;
  for (size_t block : {160u, 333u, 16000u}) {
    const auto ev = run_vad(x, block, o);
    ASSERT_EQ(ev.size(), 5u) << block;
    EXPECT_EQ(ev[0].kind, VadEvent::kSpeechStart);
    EXPECT_EQ(ev[1].kind, VadEvent::kPause);
    EXPECT_NEAR(ev[1].t_s, 1.0, 0.021);
    EXPECT_NEAR(ev[1].detected_s, 1.2, 0.021);
    EXPECT_EQ(ev[2].kind, VadEvent::kResume);
    EXPECT_NEAR(ev[2].t_s, 1.3, 0.021);
    EXPECT_NEAR(ev[2].detected_s, 1.32, 0.021);
    // The 0.1 s gap is shorter than pause_ms: no events.
    EXPECT_EQ(ev[3].kind, VadEvent::kPause);
    EXPECT_NEAR(ev[3].t_s, 2.2, 0.021);
    EXPECT_NEAR(ev[3].detected_s, 2.4, 0.021);
    EXPECT_EQ(ev[4].kind, VadEvent::kSpeechEnd);
    EXPECT_NEAR(ev[4].t_s, ev[3].t_s, 1e-9);  // the end confirms the pause
    EXPECT_NEAR(ev[4].detected_s, 2.8, 0.021);
  }
  // pause_ms 0 (default) or not shorter than the hangover: no pause events.
  o.pause_ms = 0;
  EXPECT_EQ(run_vad(x, 320, o).size(), 2u);
  o.pause_ms = 600;
  EXPECT_EQ(run_vad(x, 320, o).size(), 2u);
}

// The trade-off behind the hangover and the speculation threshold, measured on real speech:
// the longest silence inside each refdata utterance (between its first and last speech frame).
// A hangover shorter than it would end the turn inside the sentence; a pause threshold shorter
// than it starts a speculative response there that the resume then cancels (wasted work, no
// cut-off). Printed for docs/BENCHMARKS.md; the checks pin the default hangover as safe.
TEST(Vad, InnerPausesOfRealUtterancesAreShorterThanTheDefaultHangover) {
  const char* clips[] = {"asr/audio/pocketsphinx_goforward.wav",
                         "asr/audio/librispeech_8455-210777-0068.wav",
                         "asr/audio/librivox_sense_and_sensibility_0870.wav",
                         "asr/audio/librivox_sense_and_sensibility_0880.wav",
                         "asr/audio/librivox_sense_and_sensibility_0930.wav",
                         "asr/audio/jfk.wav"};
  for (const char* c : clips) {
    auto x = load16k(c);
    x.resize(x.size() + 32000, 0.0f);
    VadOptions o;
    o.hangover_ms = 5000;  // one segment per clip: measure the gaps inside it
    o.pause_ms = 100;
    const auto ev = run_vad(x, 320, o);
    double longest = 0;
    int pauses_120 = 0, pauses_200 = 0, pauses = 0;
    for (size_t i = 0; i + 1 < ev.size(); ++i) {
      if (ev[i].kind == VadEvent::kPause && ev[i + 1].kind == VadEvent::kResume) {
        const double gap = ev[i + 1].t_s - ev[i].t_s;
        longest = std::max(longest, gap);
        ++pauses;
        pauses_120 += gap >= 0.12 - 1e-9;
        pauses_200 += gap >= 0.2;
      }
    }
    std::printf("%s: %d inner pauses >= 100 ms, %d >= 120 ms, %d >= 200 ms, longest %.0f ms\n",
                c, pauses, pauses_120, pauses_200, longest * 1000);
    if (std::string(c).find("jfk") == std::string::npos) {
      // One sentence each: neither the configured hangover (600 ms) nor the hold on a
      // speculative answer's audio (pipeline.speculative_hold_ms, 250 ms) is reached inside it,
      // so a guess started at an inner pause (pipeline.vad_pause_ms, 120 ms: the pauses >= 120
      // printed above) is cancelled unheard. (jfk's background noise keeps this energy VAD in
      // speech across its pauses: nothing to measure there.)
      EXPECT_LT(longest * 1000, 200) << c;
    }
  }
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
