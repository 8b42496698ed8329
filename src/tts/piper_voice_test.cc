#include "tts/piper_voice.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "testing/refdata.h"
#include "tts/wav_writer.h"

namespace omni::tts {
namespace {

using nlohmann::json;

const PiperVoice& tiny_voice() {
  static const PiperVoice v = PiperVoice::load(omni::testing::refdata("tts/models/tiny.onnx"));
  return v;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

TEST(PiperVoice, TextToAudioMatchesGoldenAndWav) {
  SpeakOptions opt;
  opt.noise_scale = 0.f;
  opt.noise_w = 0.f;
  const std::string text = "Hello, my name is Omni.";
  const auto audio = tiny_voice().synthesize_all(text, opt);
  const auto golden =
      omni::testing::read_f32(omni::testing::refdata("tts/golden/en1_ls1.0.audio.f32"));
  EXPECT_LE(max_abs_diff(audio, golden), 2e-5f);
  // Piper's int16 conversion of our audio gives the golden WAV (allowing one LSB where our
  // float differs from ORT's by a few 1e-6 around a truncation boundary).
  const auto wav = omni::testing::read_file(omni::testing::refdata("tts/golden/en1_ls1.0.wav"));
  const auto ours = wav_s16_bytes(piper_to_int16(audio), 22050);
  ASSERT_EQ(ours.size(), wav.size());
  EXPECT_TRUE(std::equal(ours.begin(), ours.begin() + 44, wav.begin()));
  int worst = 0;
  for (size_t i = 44; i + 1 < wav.size(); i += 2) {
    const int a = int16_t(ours[i] | (ours[i + 1] << 8));
    const int b = int16_t(wav[i] | (wav[i + 1] << 8));
    worst = std::max(worst, std::abs(a - b));
  }
  EXPECT_LE(worst, 1);
  // The conversion itself, exactly, on the golden float audio.
  const auto exact = wav_s16_bytes(piper_to_int16(golden), 22050);
  EXPECT_EQ(exact, wav);
}

TEST(PiperVoice, StreamsSentenceBySentence) {
  SpeakOptions opt;
  opt.noise_scale = 0.f;
  opt.noise_w = 0.f;
  std::vector<SentenceAudio> got;
  EXPECT_TRUE(tiny_voice().synthesize("Hello world. How are you today? I am fine!", opt,
                                      [&](const SentenceAudio& s) {
                                        got.push_back(s);
                                        return true;
                                      }));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].phonemes, "h\u02CCa\u028A \u0251\u02D0\u0279 ju\u02D0 t\u0259d\u02C8e\u026A?");
  for (const auto& s : got) EXPECT_EQ(s.samples.size() % 256, 0u);
  // Stopping after the first sentence synthesises nothing more.
  int calls = 0;
  EXPECT_FALSE(tiny_voice().synthesize("One. Two. Three.", opt, [&](const SentenceAudio&) {
    ++calls;
    return false;
  }));
  EXPECT_EQ(calls, 1);
  const auto all = tiny_voice().synthesize_all("Hello world. How are you today? I am fine!", opt);
  EXPECT_EQ(all.size(), got[0].samples.size() + got[1].samples.size() + got[2].samples.size() +
                            2 * size_t(0.2 * 22050));
}

TEST(PiperVoice, ChunksEqualSentences) {
  SpeakOptions opt;  // default noise, fixed seed: chunks see the same noise as sentences
  opt.seed = 5;
  const std::string text = "Hello world. How are you today?";
  std::vector<std::vector<float>> sentences;
  tiny_voice().synthesize(text, opt, [&](const SentenceAudio& s) {
    sentences.push_back(s.samples);
    return true;
  });
  std::vector<std::vector<float>> joined(2);
  int lasts = 0;
  EXPECT_TRUE(tiny_voice().synthesize_chunks(
      text, opt, 8, [&](size_t i, std::span<const float> a, bool last) {
        EXPECT_LT(i, 2u);
        joined[i].insert(joined[i].end(), a.begin(), a.end());
        lasts += last;
        return true;
      }));
  EXPECT_EQ(lasts, 2);
  EXPECT_EQ(joined, sentences);
}

TEST(PiperVoice, DefaultsAreNoisyButSeeded) {
  SpeakOptions opt;  // config defaults: 0.667 / 1 / 0.8
  opt.seed = 42;
  const auto a = tiny_voice().synthesize_all("Hello.", opt);
  EXPECT_EQ(a, tiny_voice().synthesize_all("Hello.", opt));
  opt.seed = 43;
  EXPECT_NE(a, tiny_voice().synthesize_all("Hello.", opt));
}

TEST(PiperVoice, KoreanVoiceConfig) {
  const PiperVoice ko =
      PiperVoice::load(omni::testing::refdata("tts/models/tiny.onnx"),
                       omni::testing::refdata("tts/models/tiny-ko.onnx.json"));
  SpeakOptions opt;
  opt.noise_scale = 0.f;
  opt.noise_w = 0.f;
  opt.length_scale = 1.3f;
  const auto audio = ko.synthesize_all("오늘 날씨가 정말 좋네요.", opt);
  const auto golden =
      omni::testing::read_f32(omni::testing::refdata("tts/golden/ko2_ls1.3.audio.f32"));
  EXPECT_LE(max_abs_diff(audio, golden), 2e-5f);
}

TEST(PiperVoice, Errors) {
  EXPECT_THROW(PiperVoice::load("/nonexistent/voice.onnx"), Error);
  const auto dir = std::filesystem::temp_directory_path() / "omni_tts_voice_test";
  std::filesystem::create_directories(dir);
  const auto onnx = (dir / "bad.onnx").string();
  { std::ofstream(onnx) << "not a model"; }
  std::filesystem::copy_file(omni::testing::refdata("tts/models/tiny.onnx.json"), onnx + ".json",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_THROW(PiperVoice::load(onnx), FormatError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace omni::tts
