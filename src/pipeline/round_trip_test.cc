// Round trip through our own stages: espeak-ng speaks a sentence, PocketSphinx transcribes it,
// the words are compared (issue 8, item 6). Only this recogniser is trained here (the refdata
// Whisper models have random weights), and its open-vocabulary English model is weak on
// espeak's formant voice; with a grammar (a closed vocabulary, `--asr-grammar`) it is accurate.
// Korean: no Korean speech recogniser exists on this machine, so there is no Korean round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "asr/resample.h"
#include "asr/wer.h"
#include "core/error.h"
#include "pipeline/local_pocketsphinx.h"
#include "pipeline/local_tts.h"

namespace omni::pipeline {
namespace {

asr::Audio speak(EspeakTts& tts, const std::string& text, const TtsOptions& o = {}) {
  asr::Audio a;
  a.sample_rate = tts.sample_rate();
  a.channels = 1;
  tts.synthesize(text, o, CancelToken(), [&](const AudioChunk& c) {
    a.samples.insert(a.samples.end(), c.samples.begin(), c.samples.end());
    return true;
  });
  return a;
}

std::string write_grammar(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("omni_round_trip_" + name + ".gram");
  std::ofstream(path) << text;
  return path.string();
}

// Pseudo-random digit strings (a fixed LCG: the same every run), 3-7 digits each.
std::vector<std::string> digit_strings(int n, uint32_t seed) {
  static const char* kNames[] = {"zero", "one", "two",   "three", "four",
                                 "five", "six", "seven", "eight", "nine"};
  uint32_t x = seed;
  auto next = [&] { return (x = x * 1664525u + 1013904223u) >> 16; };
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    const int len = 3 + static_cast<int>(next() % 5);
    std::string s;
    for (int k = 0; k < len; ++k) {
      if (k > 0) s.push_back(' ');
      s.append(kNames[next() % 10]);
    }
    out.push_back(s);
  }
  return out;
}

struct Score {
  size_t errors = 0, words = 0;
  double rate() const { return words ? double(errors) / double(words) : 0.0; }
};

Score round_trip(EspeakTts& tts, PocketsphinxStt& stt, const std::vector<std::string>& texts,
                 const TtsOptions& o, bool print) {
  Score s;
  for (const auto& t : texts) {
    const SttResult r = stt.transcribe(speak(tts, t, o), {}, CancelToken());
    const asr::WerResult w = asr::word_error_rate(t, r.text);
    s.errors += w.errors();
    s.words += w.reference_words;
    if (print) std::printf("  \"%s\" -> \"%s\" (%zu errors)\n", t.c_str(), r.text.c_str(), w.errors());
  }
  return s;
}

constexpr const char* kDigitsGrammar =
    "#JSGF V1.0;\n"
    "grammar digits;\n"
    "public <digits> = ( zero | one | two | three | four | five | six | seven | eight | "
    "nine )+ ;\n";

// The levels and the resampling that feed the recogniser: espeak's 22050 Hz speech reaches
// 16 kHz with its level intact and nothing near clipping (a bug here would explain bad WER).
TEST(RoundTrip, EspeakAudioReachesTheRecogniserIntact) {
  EspeakTts tts("en-us");
  const asr::Audio a = speak(tts, "The quick brown fox jumps over the lazy dog.");
  ASSERT_EQ(a.sample_rate, 22050);
  const asr::Audio b = asr::to_whisper_input(a);
  ASSERT_EQ(b.sample_rate, 16000);
  EXPECT_NEAR(b.seconds(), a.seconds(), 0.01);
  auto stats = [](const std::vector<float>& v) {
    double e = 0;
    float peak = 0;
    for (float x : v) {
      e += double(x) * x;
      peak = std::max(peak, std::abs(x));
    }
    return std::pair<double, float>(std::sqrt(e / double(v.size())), peak);
  };
  const auto [rms_a, peak_a] = stats(a.samples);
  const auto [rms_b, peak_b] = stats(b.samples);
  std::printf("espeak: rms %.3f (%.1f dBFS), peak %.3f; at 16 kHz: rms %.3f, peak %.3f\n", rms_a,
              20 * std::log10(rms_a), peak_a, rms_b, peak_b);
  // Speech energy is below 8 kHz: the 16 kHz copy keeps (nearly) all of it.
  EXPECT_NEAR(rms_b / rms_a, 1.0, 0.05);
  EXPECT_GT(rms_a, 0.02);   // not near silence (-34 dBFS)
  EXPECT_LT(peak_b, 0.999f);  // not clipped on the way to int16
}

// A closed vocabulary: digit strings through a JSGF grammar, the way a user configures command
// recognition (`asr.pocketsphinx_grammar`). Chance level is 1 word in 10. The voice matters: on
// 30 other strings (seed 12345) espeak's en-us variants gave WER f2 2.5 %, f3 12.7 %, m1 and the
// default 15.9 %, f4 18.5 %, m7 40.8 %; slower speech was worse (0.8x 30 %). These strings
// (another seed) check the chosen voice and the default one.
TEST(RoundTrip, DigitsThroughAGrammarAreRecognised) {
  EspeakTts tts("en-us");
  asr::PocketsphinxOptions po;
  po.jsgf_path = write_grammar("digits", kDigitsGrammar);
  PocketsphinxStt stt(po);
  EXPECT_EQ(stt.name(), "pocketsphinx:en-us+grammar");
  const auto strings = digit_strings(30, 777);
  TtsOptions f2;
  f2.voice = "en-us+f2";
  const Score s = round_trip(tts, stt, strings, f2, true);
  std::printf("digits, grammar, voice en-us+f2: %zu of %zu words wrong (WER %.1f %%)\n", s.errors,
              s.words, 100 * s.rate());
  const Score d = round_trip(tts, stt, strings, {}, false);
  std::printf("digits, grammar, default voice: %zu of %zu words wrong (WER %.1f %%)\n", d.errors,
              d.words, 100 * d.rate());
  EXPECT_GE(s.words, 120u);
  EXPECT_LE(s.rate(), 0.10);
  EXPECT_LE(d.rate(), 0.35);
  std::filesystem::remove(po.jsgf_path);
}

// A small command set, as a user would write it for a voice-controlled device.
TEST(RoundTrip, CommandsThroughAGrammarAreRecognised) {
  const std::string grammar =
      "#JSGF V1.0;\n"
      "grammar commands;\n"
      "<device> = light | radio | fan | heater | television ;\n"
      "<room> = kitchen | bedroom | hall | garden | office ;\n"
      "public <command> = ( turn on | turn off | stop | start ) the <device> [ in the <room> ]\n"
      "                 | set an alarm for <hour> o'clock | what time is it ;\n"
      "<hour> = one | two | three | four | five | six | seven | eight | nine | ten | eleven |"
      " twelve ;\n";
  asr::PocketsphinxOptions po;
  po.jsgf_path = write_grammar("commands", grammar);
  PocketsphinxStt stt(po);
  EspeakTts tts("en-us");
  const std::vector<std::string> commands = {
      "turn on the light in the kitchen", "turn off the radio",
      "stop the fan in the bedroom",      "start the heater in the office",
      "set an alarm for seven o'clock",   "what time is it",
      "turn off the television in the hall", "turn on the fan in the garden"};
  const Score s = round_trip(tts, stt, commands, {}, true);
  std::printf("commands, grammar: %zu of %zu words wrong (WER %.1f %%)\n", s.errors, s.words,
              100 * s.rate());
  EXPECT_LE(s.rate(), 0.10);
  std::filesystem::remove(po.jsgf_path);
}

// Open English with the default language model: far from usable on espeak's voice, but far
// better than chance (which is ~100 % WER); recorded so a regression (or an improvement) shows.
TEST(RoundTrip, OpenEnglishSentences) {
  PocketsphinxStt stt;
  EspeakTts tts("en-us");
  const std::vector<std::string> sentences = {
      "What is the capital of France?", "Please open the door for me.",
      "I would like a cup of coffee.", "The weather is nice today.",
      "Can you tell me the time?", "My name is John and I live in London."};
  const Score s = round_trip(tts, stt, sentences, {}, true);
  std::printf("open English, default voice: %zu of %zu words wrong (WER %.1f %%)\n", s.errors,
              s.words, 100 * s.rate());
  EXPECT_LE(s.rate(), 0.95);
}

// A grammar file that does not exist is a clear error. (A JSGF syntax error also gives one,
// "cannot load the grammar", but sphinxbase's parser leaks on that path, which LeakSanitizer
// reports, so it is not exercised here.)
TEST(RoundTrip, MissingGrammarIsAClearError) {
  asr::PocketsphinxOptions po;
  po.jsgf_path = "/nonexistent/omni.gram";
  try {
    PocketsphinxStt stt(po);
    ADD_FAILURE() << "a missing grammar loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("grammar not found"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace omni::pipeline
