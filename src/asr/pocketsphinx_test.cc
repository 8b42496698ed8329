// The zero-download recognizer on the real English clips of refdata: word error rates are
// printed and bounded by what was measured (docs/TESTING.md, "ASR accuracy"), so a regression in
// audio conversion or configuration shows up as a jump in WER.
#include "asr/pocketsphinx.h"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "asr/audio_io.h"
#include "asr/wer.h"
#include "core/error.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

// Measured 2026-11-28 (see docs/TESTING.md); the bound leaves room for libm differences only.
constexpr double kMaxWer = 0.35;

nlohmann::json clips() {
  std::ifstream f(omni::testing::refdata("asr/audio/transcripts.json"));
  return nlohmann::json::parse(f)["clips"];
}

TEST(Pocketsphinx, RecognisesGoForward) {
  Pocketsphinx ps;
  const auto r = ps.recognize(load_audio_file(omni::testing::refdata("asr/audio/pocketsphinx_goforward.wav")));
  // The clip pocketsphinx's own tests use; its expected result is exact.
  EXPECT_EQ(r.text, "go forward ten meters");
  ASSERT_EQ(r.words.size(), 4u);
  for (size_t i = 1; i < r.words.size(); ++i) EXPECT_GE(r.words[i].t0, r.words[i - 1].t1 - 1e-9);
  EXPECT_LE(r.words.back().t1, 2.8);
}

TEST(Pocketsphinx, WordErrorRateOnRealSpeech) {
  Pocketsphinx ps;
  size_t errors = 0, words = 0;
  for (const auto& c : clips()) {
    if (c.value("language", "en") != "en") continue;
    const auto audio = load_audio_file(omni::testing::refdata("asr/audio/" + c["file"].get<std::string>()));
    const auto r = ps.recognize(audio);
    const auto w = word_error_rate(c["transcript_normalized"].get<std::string>(), r.text);
    errors += w.errors();
    words += w.reference_words;
    std::printf("pocketsphinx %-40s WER %5.1f%%  \"%s\"\n", c["file"].get<std::string>().c_str(),
                100 * w.rate(), r.text.c_str());
  }
  ASSERT_GT(words, 50u);
  const double wer = double(errors) / double(words);
  std::printf("pocketsphinx overall WER %.1f%% (%zu errors / %zu words)\n", 100 * wer, errors, words);
  EXPECT_LT(wer, kMaxWer);
}

TEST(Pocketsphinx, StreamingGivesPartialsAndAFinalResult) {
  // Two decoders: one carries its cepstral mean from utterance to utterance (speaker adaptation).
  Pocketsphinx ps, offline_ps;
  const auto audio = load_audio_file(omni::testing::refdata("asr/audio/pocketsphinx_goforward.wav"));
  const auto offline = offline_ps.recognize(audio);
  ps.begin();
  std::string last_partial;
  const std::span<const float> all(audio.samples);
  for (size_t at = 0; at < all.size(); at += 1600) {  // 100 ms blocks
    last_partial = ps.feed(all.subspan(at, std::min<size_t>(1600, all.size() - at)));
  }
  const auto streamed = ps.end();
  EXPECT_EQ(streamed.text, offline.text);
  EXPECT_FALSE(last_partial.empty());
}

TEST(Pocketsphinx, MisuseAndMissingModelAreClearErrors) {
  Pocketsphinx ps;
  EXPECT_THROW(ps.feed(std::vector<float>(10)), Error);
  EXPECT_THROW(ps.end(), Error);
  PocketsphinxOptions o;
  o.hmm_dir = "/nonexistent/hmm";
  try {
    Pocketsphinx bad(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/hmm"), std::string::npos);
  }
  EXPECT_THROW(ps.recognize(Audio{}), Error);
  // Silence and empty-but-valid audio give no words, not an error.
  Audio silence;
  silence.sample_rate = 16000;
  silence.samples.assign(16000, 0.0f);
  EXPECT_EQ(ps.recognize(silence).text, "");
}

}  // namespace
}  // namespace omni::asr
