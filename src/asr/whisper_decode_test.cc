// Decoding beyond the greedy goldens (refdata has no beam / fallback / detection goldens): beam
// search, temperature fallback, no-speech skipping, prompts and language detection, checked on
// the random-weight micro models by determinism, invariants and brute-force recomputation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "asr/audio_io.h"
#include "asr/mel.h"
#include "asr/whisper.h"
#include "asr/whisper_forward.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

using omni::testing::refdata;

std::vector<float> clip(const std::string& name) {
  return load_audio_file(refdata("asr/audio/" + name)).samples;
}

std::vector<int32_t> ids(const Transcript& t) {
  std::vector<int32_t> out;
  for (const auto& s : t.segments) {
    for (const auto& tok : s.tokens) out.push_back(tok.id);
  }
  return out;
}

double sum_logprob(const Transcript& t) {
  double sum = 0;
  for (const auto& s : t.segments) {
    for (const auto& tok : s.tokens) sum += tok.plog;
  }
  return sum;
}

double avg_logprob(const Transcript& t) {
  size_t n = 0;
  for (const auto& s : t.segments) n += s.tokens.size();
  return n ? sum_logprob(t) / static_cast<double>(n) : 0.0;
}

// OpenAI-style beams (top-k candidates): greedy is one of the hypotheses beam search could have
// kept, so the chosen result scores at least as well. (whisper.cpp's sampled candidates, the
// default, are checked against whisper-cli in whisper_cli_golden_test.)
TEST(WhisperDecode, TopKBeamSearchIsDeterministicAndScoresAtLeastGreedy) {
  Transcriber tr(refdata("asr/models/ggml-micro.en-random-f16.bin"), 2);
  for (const char* name : {"jfk.wav", "pocketsphinx_goforward.wav"}) {
    SCOPED_TRACE(name);
    const auto pcm = clip(name);
    TranscribeOptions greedy;
    const Transcript g = tr.transcribe_16k(pcm, greedy);
    for (int beam : {2, 5}) {
      SCOPED_TRACE(beam);
      TranscribeOptions o;
      o.beam_size = beam;
      o.beam_topk = true;
      const Transcript a = tr.transcribe_16k(pcm, o);
      const Transcript b = tr.transcribe_16k(pcm, o);
      EXPECT_EQ(ids(a), ids(b));
      ASSERT_FALSE(a.segments.empty());
      // Beams are ranked by average log-probability (length penalty -1), greedy is one of the
      // hypotheses beam search could have kept.
      std::printf("%s beam %d: avg logprob %.4f (greedy %.4f), %zu tokens\n", name, beam,
                  avg_logprob(a), avg_logprob(g), ids(a).size());
      EXPECT_GE(avg_logprob(a), avg_logprob(g) - 1e-6);
    }
  }
}

TEST(WhisperDecode, TemperatureFallbackSamplesDeterministically) {
  Transcriber tr(refdata("asr/models/ggml-micro.en-random-f16.bin"), 2);
  const auto pcm = clip("pocketsphinx_goforward.wav");
  // Without timestamps the random model loops on one token until the context is full: a
  // failure that sends the window to the fallback temperatures.
  TranscribeOptions o;
  o.no_timestamps = true;
  o.best_of = 2;
  const Transcript t0 = tr.transcribe_16k(pcm, o);
  o.temperature_inc = 1.0f;  // one retry, at 1.0
  const Transcript a = tr.transcribe_16k(pcm, o);
  const Transcript b = tr.transcribe_16k(pcm, o);
  EXPECT_EQ(ids(a), ids(b));
  EXPECT_NE(ids(a), ids(t0));
  o.seed = 7;
  const Transcript c = tr.transcribe_16k(pcm, o);
  EXPECT_NE(ids(a), ids(c));
}

TEST(WhisperDecode, NoSpeechWindowsAreSkipped) {
  Transcriber tr(refdata("asr/models/ggml-micro.en-random-f16.bin"), 2);
  const auto pcm = clip("pocketsphinx_goforward.wav");
  TranscribeOptions o;
  o.no_speech_thold = 1.0f;  // never silent
  EXPECT_FALSE(tr.transcribe_16k(pcm, o).segments.empty());
  o.no_speech_thold = -1.0f;  // always "likely silent" ...
  o.logprob_thold = 1.0f;     // ... and every log-prob is below this
  const Transcript t = tr.transcribe_16k(pcm, o);
  EXPECT_TRUE(t.segments.empty());
  EXPECT_EQ(t.text, "");
}

TEST(WhisperDecode, TokenizeRoundTripsThroughTheVocabulary) {
  const auto m = WhisperModel::load(refdata("asr/models/ggml-micro.en-random-f16.bin"));
  for (const std::string& text : {std::string(" And so, my fellow Americans"),
                                 std::string("ask not what your country's 1961 can do!"),
                                 std::string("  two  spaces\nand a newline")}) {
    const auto tok = whisper_tokenize(*m, text);
    ASSERT_FALSE(tok.empty());
    std::string back;
    for (int32_t id : tok) {
      ASSERT_LT(id, m->tokens().eot);
      back += m->token_text(id);
    }
    EXPECT_EQ(back, text);
  }
  // GPT-2 words: " Americans" is one token with its leading space.
  const auto am = whisper_tokenize(*m, " Americans");
  ASSERT_EQ(am.size(), 1u);
  EXPECT_EQ(am[0], m->find_token(" Americans"));
}

TEST(WhisperDecode, InitialPromptConditionsTheDecoder) {
  Transcriber tr(refdata("asr/models/ggml-micro.en-random-f16.bin"), 2);
  const auto pcm = clip("jfk.wav");
  TranscribeOptions o;
  const Transcript plain = tr.transcribe_16k(pcm, o);
  o.initial_prompt = " And so, my fellow Americans";
  const Transcript prompted = tr.transcribe_16k(pcm, o);
  EXPECT_NE(ids(plain), ids(prompted));
  EXPECT_EQ(ids(prompted), ids(tr.transcribe_16k(pcm, o)));
}

TEST(WhisperDecode, LanguageDetectionIsTheArgmaxOverLanguageTokens) {
  const auto model = WhisperModel::load(refdata("asr/models/ggml-micro-random-f16.bin"));
  Transcriber tr(model, 2);
  const WhisperTokens& tk = model->tokens();
  for (const char* name : {"jfk.wav", "librispeech_8455-210777-0068.wav"}) {
    SCOPED_TRACE(name);
    const auto pcm = clip(name);
    const std::vector<float> probs = tr.language_probs_16k(pcm);
    ASSERT_EQ(static_cast<int>(probs.size()), tk.n_languages);
    // Brute force: encoder + decoder on <|startoftranscript|>, raw logits of every language.
    ThreadPool pool(1);
    const LogMel mel = log_mel_spectrogram(pcm, model->mel_filters(), {});
    WhisperDecoder dec(*model, pool);
    const int n_ctx = model->hparams().n_audio_ctx;
    dec.set_audio(whisper_encode(*model, mel, 0, n_ctx, pool), n_ctx);
    std::vector<float> logits;
    dec.decode(&tk.sot, 1, logits);
    int best = 0;
    for (int i = 1; i < tk.n_languages; ++i) {
      if (logits[tk.lang(i)] > logits[tk.lang(best)]) best = i;
    }
    // Softmax over whisper.cpp's 100 language codes: on this 99-language model the 100th token
    // is <|translate|> (sot + 1 + 99), which takes part in the normalisation, not in the result.
    ASSERT_EQ(tk.n_languages, 99);
    ASSERT_EQ(tk.lang(99), tk.translate);
    double mx = -1e30, sum = 0;
    for (int i = 0; i < 100; ++i) mx = std::max<double>(mx, logits[tk.lang(i)]);
    for (int i = 0; i < 100; ++i) sum += std::exp(logits[tk.lang(i)] - mx);
    for (int i = 0; i < tk.n_languages; ++i) {
      EXPECT_NEAR(probs[i], std::exp(logits[tk.lang(i)] - mx) / sum, 1e-6) << i;
    }
    const int got = static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin());
    EXPECT_EQ(got, best);
    // --language auto decodes with the detected language token: same result as naming it.
    TranscribeOptions o;
    o.language = "auto";
    const Transcript a = tr.transcribe_16k(pcm, o);
    EXPECT_EQ(a.language, whisper_language_code(best));
    EXPECT_NEAR(a.language_prob, probs[best], 1e-6);
    o.language = whisper_language_code(best);
    const Transcript b = tr.transcribe_16k(pcm, o);
    EXPECT_EQ(ids(a), ids(b));
    EXPECT_EQ(b.language, o.language);
    // The translate task token changes the decoder's input.
    o.translate = true;
    EXPECT_NE(sum_logprob(tr.transcribe_16k(pcm, o)), sum_logprob(b));
  }
}

TEST(WhisperDecode, EnglishOnlyModelsRefuseOtherLanguages) {
  Transcriber tr(refdata("asr/models/ggml-micro.en-random-f16.bin"), 1);
  const std::vector<float> pcm(16000, 0.0f);
  TranscribeOptions o;
  o.language = "ko";
  try {
    tr.transcribe_16k(pcm, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("English-only"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tr.language_probs_16k(pcm), Error);
  o.language = "auto";
  EXPECT_EQ(tr.transcribe_16k(pcm, o).language, "en");
  o.beam_size = 0;
  EXPECT_THROW(tr.transcribe_16k(pcm, o), Error);
  o.beam_size = 1;
  o.temperature_inc = 1e-9f;  // would never reach 1.0 in float steps
  EXPECT_THROW(tr.transcribe_16k(pcm, o), Error);
}

}  // namespace
}  // namespace omni::asr
