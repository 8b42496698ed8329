#include "server/speech.h"

#include <gtest/gtest.h>

#include <cmath>

#include "asr/wav.h"
#include "server/openai.h"
#include "testing/refdata.h"
#include "tts/espeak.h"

namespace omni::server {
namespace {

using V = std::vector<std::string>;

TEST(SplitSentences, StopsFollowedBySpaceLineBreaksAndCjk) {
  EXPECT_EQ(split_sentences("Hello there. How are you? Fine!"), (V{"Hello there.", "How are you?", "Fine!"}));
  EXPECT_EQ(split_sentences("Pi is 3.14 exactly. Yes"), (V{"Pi is 3.14 exactly.", "Yes"}));
  EXPECT_EQ(split_sentences("one\ntwo\n\n  three  "), (V{"one", "two", "three"}));
  EXPECT_EQ(split_sentences("안녕하세요。 你好！好吗？"), (V{"안녕하세요。", "你好！", "好吗？"}));
  EXPECT_EQ(split_sentences(" \n \n"), V{});
  EXPECT_EQ(split_sentences(""), V{});
}

TEST(SplitSentences, EndsSentence) {
  EXPECT_TRUE(ends_sentence("Hello."));
  EXPECT_TRUE(ends_sentence("Hello?  "));
  EXPECT_TRUE(ends_sentence("Hello\n"));
  EXPECT_TRUE(ends_sentence("你好。"));
  EXPECT_FALSE(ends_sentence("Hello"));
  EXPECT_FALSE(ends_sentence("3.5 and"));
  EXPECT_FALSE(ends_sentence(""));
}

TEST(WavHeader, StreamingAndSizedHeadersParse) {
  std::string sized = wav_header_s16(kSpeechSampleRate, 4);
  sized += std::string("\x01\x00\xff\x7f", 4);
  asr::WavInfo info;
  const auto a = asr::read_wav(std::span(reinterpret_cast<const uint8_t*>(sized.data()), sized.size()),
                               "sized", &info);
  EXPECT_EQ(a.sample_rate, kSpeechSampleRate);
  ASSERT_EQ(a.samples.size(), 2u);
  EXPECT_FLOAT_EQ(a.samples[1], 32767 / 32768.0f);
  EXPECT_FALSE(info.streaming);
  // A streamed response: unknown sizes; our reader (like players) reads to the end.
  std::string streamed = wav_header_s16(kSpeechSampleRate);
  streamed += std::string(6, '\0');
  const auto b = asr::read_wav(std::span(reinterpret_cast<const uint8_t*>(streamed.data()), streamed.size()),
                               "streamed", &info);
  EXPECT_EQ(b.samples.size(), 3u);
  EXPECT_TRUE(info.streaming);
}

double rms(std::span<const int16_t> pcm) {
  double s = 0;
  for (int16_t v : pcm) s += static_cast<double>(v) * v;
  return pcm.empty() ? 0 : std::sqrt(s / pcm.size());
}

TEST(SpeechEngine, EspeakVoicesBySentenceAt24k) {
  SpeechEngine e("", "");
  EXPECT_EQ(e.default_voice(), "alloy");
  // Every OpenAI name maps to a working espeak voice.
  for (const auto& v : e.voice_names()) EXPECT_NO_THROW(e.check_voice(v)) << v;
  EXPECT_NO_THROW(e.check_voice("ko"));
  EXPECT_THROW(e.check_voice("no-such-voice"), ApiError);
  std::vector<size_t> sizes;
  e.synthesize("Hello there. How are you?", {.voice = "alloy"}, [&](std::span<const int16_t> pcm) {
    sizes.push_back(pcm.size());
    EXPECT_GT(rms(pcm), 100);
    return true;
  });
  ASSERT_EQ(sizes.size(), 2u);
  // The same sentence from espeak directly, resampled 22050 → 24000 Hz.
  std::vector<int16_t> direct;
  tts::Espeak::instance().synthesize("Hello there.", {.voice = "en-us"}, [&](std::span<const int16_t> p, bool) {
    direct.insert(direct.end(), p.begin(), p.end());
    return true;
  });
  const double want = std::ceil(direct.size() * 24000.0 / tts::Espeak::instance().sample_rate());
  EXPECT_NEAR(static_cast<double>(sizes[0]), want, want * 0.05);
  // Faster speech is shorter; stopping after the first sentence stops synthesis.
  size_t fast = 0, calls = 0;
  e.synthesize("Hello there.", {.voice = "alloy", .speed = 2.0f}, [&](std::span<const int16_t> pcm) {
    fast = pcm.size();
    return true;
  });
  EXPECT_LT(fast, sizes[0] * 0.8);
  EXPECT_FALSE(e.synthesize("One. Two. Three.", {}, [&](std::span<const int16_t>) { return ++calls < 1; }));
  EXPECT_EQ(calls, 1u);
}

TEST(SpeechEngine, PiperVoicesFromFolderAndDefault) {
  const std::string onnx = testing::refdata("tts/models/tiny.onnx");
  const std::string dir = onnx.substr(0, onnx.find_last_of('/'));
  SpeechEngine e(dir, onnx);
  EXPECT_EQ(e.default_voice(), "tiny");
  const auto names = e.voice_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "tiny"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "tiny-ms"), names.end());
  // OpenAI names speak with the --voice default; the random-weight voice still makes samples.
  size_t n = 0;
  e.synthesize("Hello there.", {.voice = "alloy"}, [&](std::span<const int16_t> pcm) {
    n += pcm.size();
    return true;
  });
  EXPECT_GT(n, 0u);
  EXPECT_THROW(SpeechEngine("/no/such/folder", ""), Error);
  EXPECT_THROW(SpeechEngine("", "/no/such/voice.onnx"), Error);
}

}  // namespace
}  // namespace omni::server
