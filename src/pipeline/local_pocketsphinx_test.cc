#include "pipeline/local_pocketsphinx.h"

#include <gtest/gtest.h>

#include "asr/audio_io.h"
#include "core/error.h"
#include "testing/refdata.h"

namespace omni::pipeline {
namespace {

TEST(PocketsphinxStt, StreamsPartialsAndFinishesWithTheTranscript) {
  PocketsphinxStt stt;
  const auto audio =
      asr::load_audio_file(omni::testing::refdata("asr/audio/pocketsphinx_goforward.wav"));
  std::vector<PartialTranscript> partials;
  CancelToken cancel;
  auto stream = stt.start_stream({}, cancel, [&](const PartialTranscript& p) { partials.push_back(p); });
  ASSERT_NE(stream, nullptr);
  const std::span<const float> all(audio.samples);
  for (size_t at = 0; at < all.size(); at += 1600) {
    stream->feed(all.subspan(at, std::min<size_t>(1600, all.size() - at)));
  }
  const auto r = stream->finish();
  EXPECT_EQ(r.text, "go forward ten meters");
  ASSERT_GE(partials.size(), 2u);  // words appear before the end, then the final
  for (size_t i = 1; i < partials.size(); ++i) {
    EXPECT_GE(partials[i].audio_seconds, partials[i - 1].audio_seconds);
  }
  // Stable prefixes (words two hypotheses agreed on) appear before the end and only grow.
  std::string stable;
  size_t stable_before_end = 0;
  for (size_t i = 0; i + 1 < partials.size(); ++i) {
    const std::string s = partials[i].text.substr(0, partials[i].stable_bytes);
    EXPECT_EQ(s.substr(0, stable.size()), stable) << i;
    stable = s;
    stable_before_end = std::max(stable_before_end, s.size());
  }
  EXPECT_GT(stable_before_end, 0u);
  EXPECT_EQ(partials.back().text, r.text);
  EXPECT_EQ(partials.back().stable_bytes, r.text.size());
  EXPECT_EQ(stt.transcribe(audio, {}, cancel).text, r.text);
}

TEST(PocketsphinxStt, RefusesOtherLanguagesAndHonoursCancel) {
  PocketsphinxStt stt;
  SttOptions ko;
  ko.language = "ko";
  asr::Audio a;
  a.sample_rate = 16000;
  a.samples.assign(1600, 0.0f);
  EXPECT_THROW(stt.transcribe(a, ko, CancelToken{}), Error);
  CancelToken cancel;
  cancel.cancel();
  EXPECT_TRUE(stt.transcribe(a, {}, cancel).cancelled);
}

}  // namespace
}  // namespace omni::pipeline
