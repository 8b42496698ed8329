#include "tts/espeak.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace omni::tts {
namespace {

double rms(const std::vector<int16_t>& v) {
  double s = 0;
  for (int16_t x : v) s += double(x) * x;
  return v.empty() ? 0 : std::sqrt(s / double(v.size()));
}

TEST(Espeak, SynthesisStreamsPerClause) {
  Espeak& e = Espeak::instance();
  EXPECT_EQ(e.sample_rate(), 22050);
  std::vector<std::vector<int16_t>> clauses;
  EspeakSynthOptions opt;
  ASSERT_TRUE(e.synthesize("Hello there, how are you? I am fine.", opt,
                           [&](std::span<const int16_t> pcm, bool clause_end) {
                             EXPECT_TRUE(clause_end);
                             clauses.emplace_back(pcm.begin(), pcm.end());
                             return true;
                           }));
  ASSERT_GE(clauses.size(), 3u);
  size_t total = 0;
  for (const auto& c : clauses) total += c.size();
  // About 2 s of speech at 175 wpm.
  EXPECT_GT(total, 22050u);
  EXPECT_LT(total, 22050u * 6);
  std::vector<int16_t> all;
  for (const auto& c : clauses) all.insert(all.end(), c.begin(), c.end());
  EXPECT_GT(rms(all), 300.0);
}

TEST(Espeak, RateChangesLengthAndKoreanSpeaks) {
  auto length = [](const EspeakSynthOptions& opt, const char* text) {
    size_t n = 0;
    Espeak::instance().synthesize(text, opt, [&](std::span<const int16_t> pcm, bool) {
      n += pcm.size();
      return true;
    });
    return n;
  };
  EspeakSynthOptions slow, fast;
  slow.rate = 120;
  fast.rate = 350;
  const char* text = "The quick brown fox jumps over the lazy dog.";
  EXPECT_GT(length(slow, text), length(fast, text) * 3 / 2);
  EspeakSynthOptions ko;
  ko.voice = "ko";
  EXPECT_GT(length(ko, "안녕하세요, 만나서 반갑습니다."), 11025u);
}

TEST(Espeak, StopEarlyAndErrors) {
  int calls = 0;
  EXPECT_FALSE(Espeak::instance().synthesize("One. Two. Three. Four.", {},
                                             [&](std::span<const int16_t>, bool) {
                                               ++calls;
                                               return false;
                                             }));
  EXPECT_EQ(calls, 1);
  EspeakSynthOptions bad;
  bad.voice = "no-such-voice-xx";
  EXPECT_THROW(Espeak::instance().synthesize("hi", bad, [](auto, bool) { return true; }), Error);
  // An exception from the callback reaches the caller (not through espeak's C frames).
  EXPECT_THROW(Espeak::instance().synthesize("hi there.", {},
                                             [](auto, bool) -> bool { throw Error("stop"); }),
               Error);
  // The library still works afterwards.
  size_t n = 0;
  Espeak::instance().synthesize("ok.", {}, [&](std::span<const int16_t> pcm, bool) {
    n += pcm.size();
    return true;
  });
  EXPECT_GT(n, 0u);
}

}  // namespace
}  // namespace omni::tts
