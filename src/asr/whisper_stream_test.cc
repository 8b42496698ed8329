// Reduced audio context and StreamingTranscriber on the random-weight micro.en model (the only
// Whisper models in refdata; their text is gibberish, so streaming is checked against offline
// decoding of the same model rather than against the reference transcript).
#include "asr/whisper_stream.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "asr/audio_io.h"
#include "core/error.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

using omni::testing::refdata;

std::vector<int32_t> ids(const Transcript& t) {
  std::vector<int32_t> v;
  for (const auto& s : t.segments) {
    for (const auto& tok : s.tokens) v.push_back(tok.id);
  }
  return v;
}

struct Fixture {
  Transcriber tr{refdata("asr/models/ggml-micro.en-random-f16.bin"), 2};
  Audio jfk = load_audio_file(refdata("asr/audio/jfk.wav"));
};

TEST(WhisperAudioCtx, FullContextEqualsDefault) {
  Fixture f;
  TranscribeOptions full;
  full.audio_ctx = f.tr.model().hparams().n_audio_ctx;
  TranscribeOptions big;
  big.audio_ctx = 100000;  // clamped
  const Transcript a = f.tr.transcribe_16k(f.jfk.samples);
  const Transcript b = f.tr.transcribe_16k(f.jfk.samples, full);
  const Transcript c = f.tr.transcribe_16k(f.jfk.samples, big);
  EXPECT_EQ(ids(a), ids(b));
  EXPECT_EQ(ids(a), ids(c));
  EXPECT_EQ(a.text, b.text);
  ASSERT_FALSE(a.segments.empty());
  // The jfk golden (micro.en, timestamps): the first sampled tokens are [_BEG_] " awhile".
  EXPECT_EQ(a.segments[0].text.substr(0, 7), " awhile");
}

TEST(WhisperAudioCtx, ReducedContextDecodes) {
  Fixture f;
  TranscribeOptions o;
  o.audio_ctx = static_cast<int>((f.jfk.samples.size() + 319) / 320);  // 550 frames = 11 s
  const Transcript r = f.tr.transcribe_16k(f.jfk.samples, o);
  const Transcript full = f.tr.transcribe_16k(f.jfk.samples);
  ASSERT_FALSE(r.segments.empty());
  for (const auto& s : r.segments) {
    EXPECT_LE(s.t0, s.t1);
    EXPECT_GE(s.t0, 0);
  }
  // Random weights: report how far the reduced window moves the decode (not a quality figure).
  const auto a = ids(r), b = ids(full);
  size_t same = 0;
  while (same < a.size() && same < b.size() && a[same] == b[same]) ++same;
  std::printf("audio_ctx %d vs 1500 on jfk: %zu of %zu/%zu leading token ids equal\n", o.audio_ctx,
              same, a.size(), b.size());
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::vector<Partial> stream(Transcriber& tr, std::span<const float> pcm, StreamingOptions o,
                            std::string* final_text) {
  std::vector<Partial> parts;
  StreamingTranscriber st(tr, o, [&](const Partial& p) { parts.push_back(p); });
  for (size_t i = 0; i < pcm.size(); i += 1600) {
    st.feed(pcm.subspan(i, std::min<size_t>(1600, pcm.size() - i)));
  }
  *final_text = st.finish();
  EXPECT_THROW(st.feed(pcm.subspan(0, 10)), Error);
  return parts;
}

TEST(WhisperStream, JfkIn100msChunksMatchesOffline) {
  Fixture f;
  StreamingOptions o;
  o.skip_when_behind = false;  // chunks arrive faster than real time: keep every step
  std::string text;
  const auto parts = stream(f.tr, f.jfk.samples, o, &text);
  // 11 s at a 500 ms step: 22 steps plus the final update, or 21 when finish() arrives before the
  // worker reaches the last chunk (the final pass then covers that step).
  ASSERT_GE(parts.size(), 22u);
  ASSERT_LE(parts.size(), 23u);
  std::string prev;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Partial& p = parts[i];
    EXPECT_TRUE(starts_with(p.stable, prev)) << "stable text retracted at update " << i;
    prev = p.stable;
    EXPECT_EQ(p.final, i + 1 == parts.size());
    EXPECT_GE(p.compute_ms, 0.0);
    EXPECT_GE(p.latency_ms, p.compute_ms);
    if (i + 1 < parts.size()) {
      EXPECT_NEAR(p.audio_s, 0.5 * static_cast<double>(i + 1), 1e-9);
    }
  }
  EXPECT_EQ(parts.back().stable, text);
  EXPECT_TRUE(parts.back().tentative.empty());
  // The final pass decodes the whole (untrimmed) clip with the full context, as offline does;
  // the final text is the stable prefix plus that hypothesis past the stable words. With random
  // weights the short early buffers agree on words the full clip does not produce, so the two
  // texts are only reported here; WhisperStream.SingleStepEqualsOffline pins the exact case.
  const Transcript offline = f.tr.transcribe_16k(f.jfk.samples);
  size_t same = 0;
  std::printf("streaming final: \"%s\"\noffline:         \"%s\"\n", text.c_str(),
              offline.text.c_str());
  while (same < text.size() && same < offline.text.size() && text[same] == offline.text[same]) {
    ++same;
  }
  std::printf("common prefix: %zu of %zu / %zu bytes\n", same, text.size(), offline.text.size());
  EXPECT_FALSE(text.empty());
}

TEST(WhisperStream, SingleStepEqualsOffline) {
  Fixture f;
  StreamingOptions o;
  o.step_s = 20.0;  // longer than the clip: only the final pass runs
  std::string text;
  const auto parts = stream(f.tr, f.jfk.samples, o, &text);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_TRUE(parts[0].final);
  EXPECT_EQ(text, f.tr.transcribe_16k(f.jfk.samples).text);
}

TEST(WhisperStream, TrimsLongBufferWithoutRetracting) {
  Fixture f;
  StreamingOptions o;
  o.step_s = 1.0;
  o.max_buffer_s = 2.0;  // forces trimming several times on the 11 s clip
  o.skip_when_behind = false;
  std::string text;
  const auto parts = stream(f.tr, f.jfk.samples, o, &text);
  ASSERT_GE(parts.size(), 11u);
  ASSERT_LE(parts.size(), 12u);
  std::string prev;
  for (const auto& p : parts) {
    EXPECT_TRUE(starts_with(p.stable, prev));
    prev = p.stable;
  }
  EXPECT_EQ(parts.back().stable, text);
  EXPECT_NEAR(parts.back().audio_s, 11.0, 1e-9);
}

// A step that runs late: the first partial's callback holds the worker until the rest of the
// clip is queued, so the next step must take all of it at once and count the skipped steps.
TEST(WhisperStream, SkipsStepsWhenBehind) {
  Fixture f;
  StreamingOptions o;
  o.step_s = 0.5;
  std::mutex mu;
  std::condition_variable cv;
  bool all_fed = false;
  std::vector<Partial> parts;
  StreamingTranscriber st(f.tr, o, [&](const Partial& p) {
    std::unique_lock<std::mutex> lock(mu);
    parts.push_back(p);
    cv.notify_all();
    if (parts.size() == 1) cv.wait(lock, [&] { return all_fed; });
  });
  const std::span<const float> pcm(f.jfk.samples);
  for (size_t i = 0; i < pcm.size(); i += 1600) {
    st.feed(pcm.subspan(i, std::min<size_t>(1600, pcm.size() - i)));
    if (i == 4 * 1600) {  // 0.5 s fed: wait for the first partial
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !parts.empty(); });
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    all_fed = true;
    cv.notify_all();
    cv.wait(lock, [&] { return parts.size() >= 2; });
  }
  const std::string text = st.finish();
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_NEAR(parts[0].audio_s, 0.5, 1e-9);
  EXPECT_EQ(parts[0].steps_skipped, 0);
  // The second step covers the whole clip: 21 intervals of 0.5 s after the first, 20 skipped.
  EXPECT_FALSE(parts[1].final);
  EXPECT_NEAR(parts[1].audio_s, 11.0, 1e-9);
  EXPECT_EQ(parts[1].steps_skipped, 20);
  EXPECT_TRUE(parts[2].final);
  EXPECT_EQ(parts[2].stable, text);
}

// The per-step token budget bounds what a partial decodes: random weights never emit EOT, so
// without it every step samples 220 tokens.
TEST(WhisperStream, TokenBudgetBoundsPartials) {
  Fixture f;
  const std::span<const float> pcm(f.jfk.samples);
  // 1 s of audio, a cap of 5 tokens (no timestamps: one segment holding every sampled token).
  TranscribeOptions to;
  to.no_timestamps = true;
  to.max_tokens = 5;
  to.audio_ctx = 50;
  const Transcript t = f.tr.transcribe_16k(pcm.subspan(0, 16000), to);
  ASSERT_EQ(t.segments.size(), 1u);
  EXPECT_EQ(t.segments[0].tokens.size(), 5u);
  to.max_tokens = 0;
  const Transcript u = f.tr.transcribe_16k(pcm.subspan(0, 16000), to);
  EXPECT_EQ(u.segments[0].tokens.size(), 220u);
  // The capped tokens are the first tokens of the uncapped decode.
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(t.segments[0].tokens[i].id, u.segments[0].tokens[i].id);
}

TEST(WhisperAudioCtx, TranscribeMelRejectsInconsistentMel) {
  Fixture f;
  LogMel mel = log_mel_spectrogram(f.jfk.samples, f.tr.model().mel_filters());
  EXPECT_EQ(f.tr.transcribe_mel(mel).text, f.tr.transcribe_16k(f.jfk.samples).text);
  mel.data.resize(mel.data.size() - 1);
  EXPECT_THROW(f.tr.transcribe_mel(mel), Error);
  mel = log_mel_spectrogram(f.jfk.samples, f.tr.model().mel_filters());
  mel.n_len_org = mel.n_len + 1;
  EXPECT_THROW(f.tr.transcribe_mel(mel), Error);
}

TEST(WhisperStream, CancelStopsAndFinishReturns) {
  Fixture f;
  int calls = 0;
  StreamingTranscriber st(f.tr, {}, [&](const Partial&) { ++calls; });
  st.cancel();
  st.feed(std::span<const float>(f.jfk.samples).subspan(0, 16000));
  const std::string text = st.finish();
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(text.empty());
}

TEST(WhisperStream, RejectsBadOptions) {
  Fixture f;
  StreamingOptions o;
  o.step_s = 0;
  EXPECT_THROW(StreamingTranscriber(f.tr, o, nullptr), Error);
  o.step_s = 1.0;
  o.max_buffer_s = 0.5;
  EXPECT_THROW(StreamingTranscriber(f.tr, o, nullptr), Error);
}

}  // namespace
}  // namespace omni::asr

namespace omni::asr {
namespace {

TEST(WhisperFittedCtx, AudioPlusMarginRoundedUpAndClamped) {
  // 2 s = 100 frames, + 0.5 s margin = 125, rounded up to 1 s steps (50 frames) = 150.
  EXPECT_EQ(fitted_audio_ctx(32000, 1500, 0.5, 1.0), 150);
  // Exactly on a step stays there: 1.5 s + 0.5 s = 100 frames.
  EXPECT_EQ(fitted_audio_ctx(24000, 1500, 0.5, 1.0), 100);
  // One sample more needs one more frame and so the next step.
  EXPECT_EQ(fitted_audio_ctx(24001, 1500, 0.5, 1.0), 150);
  // No margin, no rounding: the frames the audio covers (ceil of samples / 320).
  EXPECT_EQ(fitted_audio_ctx(32001, 1500, 0.0, 0.0), 101);
  EXPECT_EQ(fitted_audio_ctx(0, 1500, 0.0, 0.0), 1);
  EXPECT_EQ(fitted_audio_ctx(0, 1500, 0.5, 1.0), 50);
  // Longer than a window: the model's context.
  EXPECT_EQ(fitted_audio_ctx(40 * 16000, 1500, 0.5, 1.0), 1500);
  EXPECT_EQ(fitted_audio_ctx(32000, 64, 0.5, 1.0), 64);
  // Negative settings count as zero.
  EXPECT_EQ(fitted_audio_ctx(32000, 1500, -1.0, -1.0), 100);
}

// peek() decodes everything fed with the final pass's options, leaves the stream going, and
// equals what finish() returns when nothing more arrives.
TEST(WhisperStream, PeekEqualsTheFittedFinalAndTheStreamGoesOn) {
  Fixture f;
  const std::span<const float> pcm(f.jfk.samples.data(), 3 * 16000);
  StreamingOptions o;
  o.final_full_context = false;
  o.step_s = 10.0;  // no partial steps: peek and finish decode the same buffer
  o.max_buffer_s = 20.0;
  o.transcribe.max_tokens = 12;
  StreamingTranscriber st(f.tr, o, nullptr);
  st.feed(pcm.subspan(0, 16000));
  const std::string early = st.peek();
  st.feed(pcm.subspan(16000));
  const std::string peeked = st.peek();
  const std::string again = st.peek();
  const std::string final_text = st.finish();
  EXPECT_FALSE(peeked.empty());
  EXPECT_EQ(peeked, again);
  EXPECT_EQ(peeked, final_text);
  EXPECT_THROW(st.peek(), Error);
  // The same buffer decoded offline with the fitted context gives the same text.
  TranscribeOptions t = o.transcribe;
  t.audio_ctx = fitted_audio_ctx(pcm.size(), f.tr.model().hparams().n_audio_ctx, 0.5, 1.0);
  EXPECT_EQ(f.tr.transcribe_16k(pcm, t).text, final_text);
  std::printf("peek after 1 s: '%s'; after 3 s: '%s'\n", early.c_str(), peeked.c_str());
}

TEST(WhisperStream, PeekAfterCancelIsEmpty) {
  Fixture f;
  StreamingOptions o;
  StreamingTranscriber st(f.tr, o, nullptr);
  st.feed(std::span<const float>(f.jfk.samples.data(), 8000));
  st.cancel();
  EXPECT_EQ(st.peek(), "");
}

}  // namespace
}  // namespace omni::asr
