// TranscribeOptions::max_decode_tokens: the cap benchmarks use to give random-weight models a
// trained model's transcript length.
#include <gtest/gtest.h>

#include "asr/audio_io.h"
#include "asr/whisper.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

size_t sampled_tokens(const Transcript& t) {
  size_t n = 0;
  for (const auto& s : t.segments) n += s.tokens.size();
  return n;
}

TEST(WhisperCap, DecodeStopsAtTheCapAndKeepsTheGreedyPrefix) {
  Transcriber tr(testing::refdata("asr/models/ggml-micro.en-random-f16.bin"), 1);
  const Audio a = load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav"));
  TranscribeOptions o;
  o.max_decode_tokens = 6;
  const Transcript t6 = tr.transcribe(a, o);
  o.max_decode_tokens = 12;
  const Transcript t12 = tr.transcribe(a, o);
  // One window (2.8 s); the segments hold the sampled tokens after the leading timestamp(s).
  EXPECT_LE(sampled_tokens(t6), 6u);
  EXPECT_LE(sampled_tokens(t12), 12u);
  EXPECT_GT(sampled_tokens(t12), sampled_tokens(t6));
  ASSERT_FALSE(t6.text.empty());
  // Greedy decoding: the shorter run is the start of the longer one.
  EXPECT_EQ(t12.text.substr(0, t6.text.size()), t6.text);
  for (const auto& s : t12.segments) EXPECT_LE(s.t1, 280 + 1);  // never past the clip
}

}  // namespace
}  // namespace omni::asr
