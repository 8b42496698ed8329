#include "pipeline/turn.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "asr/audio_io.h"
#include "asr/resample.h"
#include "pipeline/local_llm.h"
#include "pipeline/local_pocketsphinx.h"
#include "pipeline/local_tts.h"
#include "pipeline/local_whisper.h"
#include "testing/refdata.h"

namespace omni::pipeline {
namespace {

std::shared_ptr<LocalLanguageModel> stories() {
  static auto m = std::make_shared<LocalLanguageModel>(
      testing::refdata("llm/models/stories260K.gguf"), llm::ContextOptions{.n_ctx = 512});
  return m;
}

TurnOptions story_options(int max_tokens) {
  TurnOptions o;
  o.gen.max_tokens = max_tokens;
  o.gen.temperature = 0;
  o.chunker.min_chars = 4;
  return o;
}

int count_after(const std::vector<TraceEvent>& ev, int seq, const std::string& stage,
                const std::string& what) {
  int n = 0;
  for (const auto& e : ev) n += e.seq > seq && e.stage == stage && e.what == what;
  return n;
}

// Blocks the LLM (inside its token callback) until the TTS worker has handed out audio. If the
// stages did not overlap, the audio could only come after generation ended and this would time
// out, leaving the ordering check below to fail.
struct WaitForAudio {
  std::mutex mu;
  std::condition_variable cv;
  bool audio = false;
  int clauses = 0;
  void on_clause() {
    std::lock_guard l(mu);
    ++clauses;
  }
  void on_audio() {
    {
      std::lock_guard l(mu);
      audio = true;
    }
    cv.notify_all();
  }
  void wait_if_clause_sent() {
    std::unique_lock l(mu);
    if (clauses > 0) cv.wait_for(l, std::chrono::seconds(30), [&] { return audio; });
  }
};

TEST(Turn, TextTurnSpeaksWhileTheModelIsStillGenerating) {
  auto conv = stories()->start_conversation("");
  EspeakTts tts("en-us");
  Stages st;
  st.tts = &tts;
  TurnInput in;
  in.text = "Once upon a time, there was a little girl.";
  WaitForAudio w;
  TurnCallbacks cb;
  cb.on_clause = [&](const std::string&) { w.on_clause(); };
  cb.on_audio = [&](const AudioChunk&) { w.on_audio(); };
  cb.on_text = [&](std::string_view) {
    w.wait_if_clause_sent();
    return true;
  };
  Trace trace;
  const TurnResult r = run_turn(st, *conv, in, story_options(80), CancelToken(), trace, cb);
  ASSERT_FALSE(r.answer.empty());
  EXPECT_FALSE(r.cancelled);
  ASSERT_GE(r.clauses.size(), 2u) << r.answer;
  EXPECT_GT(r.audio.size(), 0u);
  EXPECT_EQ(r.sample_rate, tts.sample_rate());
  const TraceEvent first_audio = trace.find("audio", "first");
  const TraceEvent llm_end = trace.find("llm", "end");
  ASSERT_GE(first_audio.seq, 0);
  ASSERT_GE(llm_end.seq, 0);
  EXPECT_LT(first_audio.seq, llm_end.seq) << "TTS did not start before the LLM finished";
  // Tokens after the first audio prove generation went on meanwhile.
  EXPECT_GT(count_after(trace.events(), first_audio.seq, "llm", "token"), 0);
  EXPECT_GE(trace.summary.voice_to_voice_ms, 0);
  EXPECT_GT(trace.summary.generated_tokens, 0);
  EXPECT_LE(trace.summary.generated_tokens, 80);
  EXPECT_NEAR(trace.summary.output_audio_s, static_cast<double>(r.audio.size()) / r.sample_rate, 1e-9);
  // The clauses are the answer, cut.
  std::string joined, squeezed;
  for (const auto& c : r.clauses) joined += c;
  for (char c : r.answer) {
    if (c != ' ' && c != '\n') squeezed += c;
  }
  std::string joined_squeezed;
  for (char c : joined) {
    if (c != ' ' && c != '\n') joined_squeezed += c;
  }
  EXPECT_EQ(joined_squeezed, squeezed);
  const auto j = trace.to_json();
  EXPECT_TRUE(j.contains("voice_to_voice_ms"));
  EXPECT_GT(j["events"].size(), 5u);
}

TEST(Turn, BargeInStopsGenerationWithinATokenAndSpeechWithinAChunk) {
  auto conv = stories()->start_conversation("");
  EspeakTts tts("en-us");
  Stages st;
  st.tts = &tts;
  TurnInput in;
  in.text = "Once upon a time";
  WaitForAudio w;
  CancelToken cancel;
  Trace trace;
  int barge_seq = -1;
  int chunks_after = 0;
  TurnCallbacks cb;
  cb.on_clause = [&](const std::string&) { w.on_clause(); };
  cb.on_audio = [&](const AudioChunk&) {
    if (barge_seq >= 0) {
      ++chunks_after;
      return;
    }
    // The user starts speaking over the first audio chunk (on the TTS thread).
    cancel.cancel();
    trace.mark("test", "barge-in");
    barge_seq = trace.find("test", "barge-in").seq;
    w.on_audio();
  };
  cb.on_text = [&](std::string_view) {
    w.wait_if_clause_sent();
    return true;
  };
  const TurnResult r = run_turn(st, *conv, in, story_options(200), cancel, trace, cb);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.finish_reason, "cancelled");
  ASSERT_GE(barge_seq, 0);
  const auto ev = trace.events();
  EXPECT_LE(count_after(ev, barge_seq, "llm", "token"), 1);
  EXPECT_EQ(count_after(ev, barge_seq, "tts", "chunk"), 0);
  EXPECT_EQ(chunks_after, 0);
  EXPECT_LT(trace.summary.generated_tokens, 200);
  // The conversation keeps what was said and takes the next turn.
  TurnInput next;
  next.text = "The end.";
  Trace t2;
  st.tts = nullptr;
  const TurnResult r2 = run_turn(st, *conv, next, story_options(8), CancelToken(), t2);
  EXPECT_FALSE(r2.cancelled);
  EXPECT_GT(t2.summary.reused_tokens, 0);
}

TEST(Turn, CancelledBeforeStartDoesNothing) {
  auto conv = stories()->start_conversation("");
  EspeakTts tts("en-us");
  Stages st;
  st.tts = &tts;
  TurnInput in;
  in.text = "Once upon a time";
  CancelToken cancel;
  cancel.cancel();
  Trace trace;
  const TurnResult r = run_turn(st, *conv, in, story_options(50), cancel, trace);
  EXPECT_TRUE(r.cancelled);
  EXPECT_TRUE(r.audio.empty());
  EXPECT_EQ(trace.find("llm", "token").seq, -1);
}

TEST(Turn, MissingStagesAreErrors) {
  auto conv = stories()->start_conversation("");
  Stages none;
  TurnInput in;
  Trace t;
  EXPECT_THROW(run_turn(none, *conv, in, {}, CancelToken(), t), Error);
  in.audio = asr::Audio{{0.0f, 0.0f}, 16000, 1};
  EXPECT_THROW(run_turn(none, *conv, in, {}, CancelToken(), t), Error);
  in.audio.reset();
  in.image = ImageInput{};
  EXPECT_THROW(run_turn(none, *conv, in, {}, CancelToken(), t), Error);
}

TEST(Turn, RealTimeAudioIsTranscribedAfterItEndsAndTheModelPrefillsMeanwhile) {
  auto conv = stories()->start_conversation("Once upon a time");
  WhisperStt stt(testing::refdata("asr/models/ggml-micro.en-random-f16.bin"), 1);
  EspeakTts tts("en-us");
  Stages st;
  st.stt = &stt;
  st.tts = &tts;
  TurnInput in;
  asr::Audio a = asr::load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav"));
  a.samples.resize(static_cast<size_t>(a.sample_rate) / 2);  // 0.5 s keeps the test fast
  in.audio = a;
  in.text = "there was a dog.";
  in.realtime = true;
  Trace trace;
  const TurnResult r = run_turn(st, *conv, in, story_options(20), CancelToken(), trace);
  EXPECT_FALSE(r.cancelled);
  EXPECT_GE(trace.summary.speech_end_ms, 500.0 - 1.0);
  EXPECT_GT(trace.summary.prefill_tokens, 0);
  EXPECT_GT(trace.summary.reused_tokens, 0);
  EXPECT_LT(trace.find("llm", "prefill").seq, trace.find("input", "end").seq);
  EXPECT_LT(trace.find("input", "end").seq, trace.find("asr", "start").seq);
  EXPECT_NE(r.prompt.find("there was a dog."), std::string::npos);
  if (trace.summary.first_audio_ms >= 0) {
    EXPECT_NEAR(trace.summary.voice_to_voice_ms,
                trace.summary.first_audio_ms - trace.summary.speech_end_ms, 1e-9);
  }
}


// Streaming ASR in the turn: the stable words of PocketSphinx's partials are prefilled into the
// chat model's KV cache (inside the template's user turn) before the speech ends, so at the end
// only the tail is evaluated; the prompt is the same token sequence a non-streamed turn builds.
TEST(Turn, StreamingAsrPrefillsTheStableTranscriptBeforeSpeechEnds) {
  LocalLanguageModel lm(testing::refdata("llm/models/tiny-qwen2-rand-f32.gguf"),
                        llm::ContextOptions{.n_ctx = 256});
  auto conv = lm.start_conversation("You are brief.");
  PocketsphinxStt stt;
  Stages st;
  st.stt = &stt;
  TurnInput in;
  in.audio = asr::load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav"));
  in.realtime = true;
  in.realtime_speed = 4.0;
  Trace trace;
  const TurnResult r = run_turn(st, *conv, in, story_options(2), CancelToken(), trace);
  ASSERT_FALSE(r.cancelled);
  const auto ev = trace.events();
  const int input_end = trace.find("input", "end").seq;
  // A prefill that follows a stable partial, all before the end of speech.
  int stable_seq = -1, prefill_after_stable = -1;
  for (const auto& e : ev) {
    if (e.stage == "asr" && e.what == "stable" && !e.detail.empty() && stable_seq < 0) stable_seq = e.seq;
    if (stable_seq >= 0 && e.stage == "llm" && e.what == "prefill" && prefill_after_stable < 0) {
      prefill_after_stable = e.seq;
    }
  }
  ASSERT_GE(stable_seq, 0);
  ASSERT_GE(prefill_after_stable, 0);
  EXPECT_LT(prefill_after_stable, input_end);
  EXPECT_LT(input_end, trace.find("asr", "end").seq);

  // The same user message on a fresh conversation, evaluated only at the end (no prefill).
  auto fresh = lm.start_conversation("You are brief.");
  fresh->add_user(UserMessage::text_only(r.prompt));
  GenOptions g;
  g.max_tokens = 1;
  const Reply plain = fresh->generate(g, CancelToken());
  const auto& s = trace.summary;
  EXPECT_EQ(s.prompt_tokens + s.reused_tokens, plain.stats.prompt_tokens + plain.stats.reused_tokens);
  // KV reuse covers more than the system prompt and user-turn opener: transcript words too.
  auto opener = lm.start_conversation("You are brief.");
  const int opener_tokens = opener->prefill("", CancelToken());
  EXPECT_GT(s.reused_tokens, opener_tokens);
  EXPECT_LT(s.prompt_tokens, plain.stats.prompt_tokens - opener_tokens);
}

asr::Audio with_silence(asr::Audio a, double seconds) {
  a = asr::to_whisper_input(a);
  a.samples.resize(a.samples.size() + static_cast<size_t>(seconds * 16000), 0.0f);
  return a;
}

// VAD in a real-time turn: the speech ends at the VAD's decision (hangover after the last word),
// before the appended silence has been fed, and voice-to-voice counts from the last speech
// sample.
TEST(Turn, VadEndsTheRealTimeTurnBeforeTheInputEnds) {
  auto conv = stories()->start_conversation("Once upon a time");
  PocketsphinxStt stt;
  EspeakTts tts("en-us");
  Stages st;
  st.stt = &stt;
  st.tts = &tts;
  const asr::Audio clip =
      asr::load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav"));
  TurnInput in;
  in.audio = with_silence(clip, 3.0);
  in.realtime = true;
  in.realtime_speed = 4.0;
  TurnOptions o = story_options(8);
  o.vad = VadOptions{.hangover_ms = 600};
  Trace trace;
  const TurnResult r = run_turn(st, *conv, in, o, CancelToken(), trace);
  EXPECT_EQ(r.transcript, "go forward ten meters");
  const auto& s = trace.summary;
  EXPECT_LT(trace.find("vad", "speech_start").seq, trace.find("vad", "speech_end").seq);
  EXPECT_LT(trace.find("vad", "speech_end").seq, trace.find("input", "end").seq);
  // Fed: the clip and the hangover, not the 3 s of silence after it.
  EXPECT_LT(s.speech_audio_s, clip.seconds() + 1.0);
  EXPECT_GT(s.speech_audio_s, 2.0);
  // The last speech sample came before the VAD's decision (the hangover).
  EXPECT_LT(s.speech_end_ms, trace.find("input", "end").t_ms);
  ASSERT_GE(s.first_audio_ms, 0);
  EXPECT_NEAR(s.voice_to_voice_ms, s.first_audio_ms - s.speech_end_ms, 1e-9);
}

// Whole-file input: trailing silence is cut before ASR.
TEST(Turn, VadTrimsTrailingSilenceOfAFile) {
  auto conv = stories()->start_conversation("Once upon a time");
  PocketsphinxStt stt;
  Stages st;
  st.stt = &stt;
  const asr::Audio clip =
      asr::load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav"));
  TurnInput in;
  in.audio = with_silence(clip, 4.0);
  TurnOptions o = story_options(4);
  o.vad = VadOptions{};
  Trace trace;
  const TurnResult r = run_turn(st, *conv, in, o, CancelToken(), trace);
  EXPECT_EQ(r.transcript, "go forward ten meters");
  EXPECT_GE(trace.find("vad", "trim").seq, 0);
  EXPECT_LE(trace.summary.speech_audio_s, clip.seconds() + 0.2);
  EXPECT_GT(trace.summary.speech_audio_s, 2.0);
  EXPECT_NEAR(trace.summary.input_audio_s, clip.seconds() + 4.0, 1e-3);
}

// A "player" as a front end would run one: plays on_audio, drops everything on retraction.
struct Player {
  std::mutex mu;
  std::vector<float> played;
  int retractions = 0;
  std::string shown;  // on_text pieces
  std::vector<std::string> transcripts;
  TurnCallbacks callbacks() {
    TurnCallbacks cb;
    cb.on_audio = [this](const AudioChunk& c) {
      std::lock_guard l(mu);
      played.insert(played.end(), c.samples.begin(), c.samples.end());
    };
    cb.on_audio_retracted = [this] {
      std::lock_guard l(mu);
      played.clear();
      ++retractions;
    };
    cb.on_text = [this](std::string_view p) {
      std::lock_guard l(mu);
      shown += p;
      return true;
    };
    cb.on_transcript = [this](const std::string& t) {
      std::lock_guard l(mu);
      transcripts.push_back(t);
    };
    return cb;
  }
};

TurnOptions speculative_options() {
  TurnOptions o = story_options(24);
  o.vad = VadOptions{.hangover_ms = 600, .pause_ms = 200};
  o.speculate = true;
  return o;
}

// A pause long enough to speculate and then the end of speech: the answer started at the pause
// is the turn's answer (no second transcription, no second generation).
TEST(Turn, SpeculativeAnswerAtAPauseIsConfirmedByTheEndOfSpeech) {
  LocalLanguageModel lm(testing::refdata("llm/models/tiny-qwen2-rand-f32.gguf"),
                        llm::ContextOptions{.n_ctx = 256});
  auto conv = lm.start_conversation("You are brief.");
  PocketsphinxStt stt;
  EspeakTts tts("en-us");
  Stages st;
  st.stt = &stt;
  st.tts = &tts;
  TurnInput in;
  in.audio = with_silence(
      asr::load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav")), 2.0);
  in.realtime = true;
  in.realtime_speed = 4.0;
  Player player;
  Trace trace;
  const TurnResult r =
      run_turn(st, *conv, in, speculative_options(), CancelToken(), trace, player.callbacks());
  ASSERT_FALSE(r.cancelled);
  EXPECT_EQ(r.transcript, "go forward ten meters");
  std::printf("answer %zu bytes (%s), %zu clauses\n", r.answer.size(), r.finish_reason.c_str(),
              r.clauses.size());

  const auto& s = trace.summary;
  EXPECT_EQ(s.speculations, 1);
  EXPECT_EQ(s.speculations_cancelled, 0);
  EXPECT_GE(trace.find("turn", "speculation_confirmed").seq, 0);
  // The answer started at the pause, before the VAD's end of speech.
  EXPECT_LT(trace.find("vad", "pause").seq, trace.find("turn", "speculate").seq);
  EXPECT_LT(trace.find("turn", "speculate").seq, trace.find("vad", "speech_end").seq);
  EXPECT_LT(trace.find("asr", "peek").seq, trace.find("llm", "start").seq);
  EXPECT_LT(trace.find("turn", "speculate").seq, trace.find("llm", "start").seq);
  EXPECT_LT(trace.find("asr", "end").seq, 0);  // the stream was never finished: no final pass
  EXPECT_EQ(count_after(trace.events(), -1, "llm", "start"), 1);
  // One exchange in the conversation, with the whole transcript.
  auto* lc = dynamic_cast<LocalConversation*>(conv.get());
  ASSERT_NE(lc, nullptr);
  ASSERT_EQ(lc->messages().size(), 3u);
  EXPECT_EQ(lc->messages()[1].content.get<std::string>(), r.transcript);
  // Held-back text came out once confirmed, transcript first.
  EXPECT_EQ(player.shown, r.answer);
  ASSERT_EQ(player.transcripts.size(), 1u);
  EXPECT_EQ(player.transcripts[0], r.transcript);
  EXPECT_EQ(player.played, r.audio);
  EXPECT_FALSE(r.audio.empty());
  // Voice-to-voice counts from the pause's last speech sample, and adds up from the milestones.
  EXPECT_NEAR(s.voice_to_voice_ms, s.first_audio_ms - s.speech_end_ms, 1e-9);
  EXPECT_LE(s.speech_end_ms, s.asr_start_ms);
  EXPECT_LE(s.asr_start_ms, s.asr_end_ms);
  EXPECT_LE(s.asr_end_ms, s.first_token_at_ms);
  EXPECT_LE(s.first_token_at_ms, s.first_clause_at_ms);
  EXPECT_LE(s.first_clause_at_ms, s.first_audio_ms);
}

// Speech resumes after a pause: the speculative answer is cancelled (its audio retracted, its
// text never shown, the conversation restored) and the utterance goes on to one answer to all
// of it.
TEST(Turn, SpeechResumingCancelsTheSpeculativeAnswer) {
  LocalLanguageModel lm(testing::refdata("llm/models/tiny-qwen2-rand-f32.gguf"),
                        llm::ContextOptions{.n_ctx = 256});
  auto conv = lm.start_conversation("You are brief.");
  PocketsphinxStt stt;
  EspeakTts tts("en-us");
  Stages st;
  st.stt = &stt;
  st.tts = &tts;
  const asr::Audio clip = asr::to_whisper_input(
      asr::load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav")));
  // The clip's speech (0.48-2.30 s) with a gap of about 0.4 s (past the 200 ms pause, short of
  // the 600 ms hangover) before the same words again, then silence.
  asr::Audio a = clip;
  a.samples.resize(static_cast<size_t>(2.35 * 16000));
  a = with_silence(a, 0.3);
  a.samples.insert(a.samples.end(), clip.samples.begin() + static_cast<std::ptrdiff_t>(0.45 * 16000),
                   clip.samples.end());
  a = with_silence(a, 2.0);
  TurnInput in;
  in.audio = a;
  in.realtime = true;
  in.realtime_speed = 4.0;
  Player player;
  Trace trace;
  const TurnResult r =
      run_turn(st, *conv, in, speculative_options(), CancelToken(), trace, player.callbacks());
  ASSERT_FALSE(r.cancelled);
  const auto& s = trace.summary;
  ASSERT_GE(s.speculations, 2);
  EXPECT_EQ(s.speculations_cancelled, s.speculations - 1);
  EXPECT_LT(trace.find("vad", "resume").seq, trace.find("turn", "speculation_cancelled").seq);
  EXPECT_LT(trace.find("turn", "speculation_cancelled").seq, trace.find("vad", "speech_end").seq);
  // Both halves were heard and answered once: one user message with all of it.
  EXPECT_NE(r.transcript.find("go forward"), std::string::npos);
  EXPECT_NE(r.transcript.find("go forward", r.transcript.find("go forward") + 1), std::string::npos)
      << r.transcript;
  auto* lc = dynamic_cast<LocalConversation*>(conv.get());
  ASSERT_NE(lc, nullptr);
  ASSERT_EQ(lc->messages().size(), 3u);
  EXPECT_EQ(lc->messages()[1].content.get<std::string>(), r.transcript);
  EXPECT_EQ(lc->messages()[2].content.get<std::string>(), r.answer);
  // Only the confirmed answer reached the user: text once, audio as the player holds it.
  EXPECT_EQ(player.shown, r.answer);
  ASSERT_EQ(player.transcripts.size(), 1u);
  EXPECT_EQ(player.transcripts[0], r.transcript);
  EXPECT_EQ(player.played, r.audio);
  std::printf("speculative starts %d, cancelled %d, retractions %d\n", s.speculations,
              s.speculations_cancelled, player.retractions);
}

// A short pause inside the utterance (about 180 ms, the longest inner pause of the refdata
// sentences: past a 120 ms pause threshold, within the 250 ms audio hold) starts a speculative answer that is computed but never heard: speech resumes
// before the hold releases its audio. In real time, so the answer (tiny model, espeak) is ready
// well within the gap: without the hold its audio would go out and be retracted.
TEST(Turn, SpeculativeAudioWaitsForTheHold) {
  LocalLanguageModel lm(testing::refdata("llm/models/tiny-qwen2-rand-f32.gguf"),
                        llm::ContextOptions{.n_ctx = 256});
  PocketsphinxStt stt;
  EspeakTts tts("en-us");
  Stages st;
  st.stt = &stt;
  st.tts = &tts;
  const asr::Audio clip = asr::to_whisper_input(
      asr::load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav")));
  asr::Audio a = clip;
  a.samples.resize(static_cast<size_t>(2.35 * 16000));
  a = with_silence(a, 0.10);  // the speech ends near 2.30 s and resumes near 2.48 s
  a.samples.insert(a.samples.end(), clip.samples.begin() + static_cast<std::ptrdiff_t>(0.45 * 16000),
                   clip.samples.begin() + static_cast<std::ptrdiff_t>(1.3 * 16000));
  a = with_silence(a, 0.9);
  TurnInput in;
  in.audio = a;
  in.realtime = true;
  TurnOptions o = speculative_options();
  o.vad->pause_ms = 120;
  o.speculative_hold_ms = 250;
  auto conv = lm.start_conversation("You are brief.");
  Player player;
  Trace trace;
  const TurnResult r = run_turn(st, *conv, in, o, CancelToken(), trace, player.callbacks());
  ASSERT_FALSE(r.cancelled);
  const auto& s = trace.summary;
  ASSERT_GE(s.speculations, 2);
  EXPECT_EQ(s.speculations_cancelled, s.speculations - 1);
  // The cancelled guess was answered (the LLM ran) but none of its audio was handed out.
  EXPECT_EQ(player.retractions, 0);
  EXPECT_EQ(s.retracted_audio_s, 0.0);
  EXPECT_LT(trace.find("turn", "audio_retracted").seq, 0);
  EXPECT_EQ(player.played, r.audio);
  EXPECT_FALSE(r.audio.empty());
  // The confirmed answer's audio waited for 250 ms of silence at most (the end of speech
  // confirms sooner only with a shorter hangover).
  EXPECT_GE(s.voice_to_voice_ms, 250.0 - 25.0);
  std::printf("speculative starts %d, cancelled %d, voice-to-voice %.0f ms\n", s.speculations,
              s.speculations_cancelled, s.voice_to_voice_ms);
}

// Without pause_ms (or with speculate off) the turn waits for the hangover.
TEST(Turn, NoSpeculationWithoutAPauseThreshold) {
  auto conv = stories()->start_conversation("Once upon a time");
  PocketsphinxStt stt;
  Stages st;
  st.stt = &stt;
  TurnInput in;
  in.audio = with_silence(
      asr::load_audio_file(testing::refdata("asr/audio/pocketsphinx_goforward.wav")), 1.5);
  in.realtime = true;
  in.realtime_speed = 4.0;
  TurnOptions o = speculative_options();
  o.speculate = false;
  Trace trace;
  const TurnResult r = run_turn(st, *conv, in, o, CancelToken(), trace);
  EXPECT_EQ(r.transcript, "go forward ten meters");
  EXPECT_EQ(trace.summary.speculations, 0);
  EXPECT_GE(trace.find("vad", "pause").seq, 0);
  EXPECT_LT(trace.find("vad", "speech_end").seq, trace.find("asr", "end").seq);
}

}  // namespace
}  // namespace omni::pipeline
