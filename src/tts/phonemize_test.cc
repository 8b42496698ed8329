#include "tts/phonemize.h"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "testing/refdata.h"
#include "tts/voice_config.h"

namespace omni::tts {
namespace {

using nlohmann::json;

json load_json(const std::string& rel) {
  std::ifstream f(omni::testing::refdata(rel));
  return json::parse(f);
}

VoiceConfig config_for(const std::string& espeak_voice) {
  return load_voice_config(omni::testing::refdata(
      espeak_voice == "ko" ? "tts/models/tiny-ko.onnx.json" : "tts/models/tiny.onnx.json"));
}

void expect_clauses(const json& golden, const std::vector<EspeakClause>& clauses) {
  ASSERT_EQ(golden.size(), clauses.size());
  for (size_t i = 0; i < clauses.size(); ++i) {
    EXPECT_EQ(golden[i]["espeak_clause_ipa"].get<std::string>(), clauses[i].ipa) << i;
    EXPECT_EQ(golden[i]["consumed_text"].get<std::string>(), clauses[i].consumed) << i;
    const json& t = golden[i]["terminator"];
    EXPECT_EQ(t.is_null() ? std::string() : t.get<std::string>(),
              clauses[i].terminator ? std::string(1, clauses[i].terminator) : std::string())
        << i;
  }
}

TEST(Phonemize, PhonemizeGoldens) {
  const json golden = load_json("tts/golden/phonemize.json");
  ASSERT_GE(golden["items"].size(), 6u);
  for (const json& item : golden["items"]) {
    SCOPED_TRACE(item["name"].get<std::string>());
    const std::string voice = item["espeak_voice"];
    const VoiceConfig config = config_for(voice);
    std::vector<EspeakClause> clauses;
    const auto sentences =
        phonemize_espeak(item["text"].get<std::string>(), voice, config.effective_phoneme_map(),
                         &clauses);
    expect_clauses(item["espeak_clauses"], clauses);
    ASSERT_EQ(item["sentences"].size(), sentences.size());
    for (size_t s = 0; s < sentences.size(); ++s) {
      const json& gs = item["sentences"][s];
      EXPECT_EQ(gs["phonemes"].get<std::string>(), u32_to_utf8(sentences[s]));
      const PhonemeIds ids = phonemes_to_ids(sentences[s], config);
      EXPECT_EQ(gs["phoneme_ids"].get<std::vector<int64_t>>(), ids.ids);
      EXPECT_EQ(gs["missing_phonemes"].size(), ids.missing.size());
    }
  }
}

TEST(Phonemize, SentenceGoldens) {
  for (const char* name : {"en1", "en2", "en3", "en4", "en5", "ko1", "ko2", "ms_en1", "ms_en2"}) {
    SCOPED_TRACE(name);
    const json g = load_json(std::string("tts/golden/") + name + ".json");
    const VoiceConfig config =
        load_voice_config(omni::testing::refdata("tts/models/" + g["config"].get<std::string>()));
    const std::string voice = config.espeak_voice;
    if (g.contains("espeak_voice")) {
      EXPECT_EQ(g["espeak_voice"].get<std::string>(), voice);
    }
    std::vector<EspeakClause> clauses;
    const auto sentences = phonemize_espeak(g["text"].get<std::string>(), voice,
                                            config.effective_phoneme_map(), &clauses);
    if (g.contains("espeak_clauses")) {
      expect_clauses(g["espeak_clauses"], clauses);
    }
    ASSERT_EQ(sentences.size(), 1u);
    if (g.contains("phonemes")) {
      EXPECT_EQ(g["phonemes"].get<std::string>(), u32_to_utf8(sentences[0]));
    }
    const PhonemeIds ids = phonemes_to_ids(sentences[0], config);
    EXPECT_EQ(g["phoneme_ids"].get<std::vector<int64_t>>(), ids.ids);
    EXPECT_TRUE(ids.missing.empty());
  }
}

TEST(Phonemize, ClauseTerminator) {
  EXPECT_EQ(clause_terminator("Hello world. H", false), '.');
  EXPECT_EQ(clause_terminator("ow are you today? I", false), '?');
  EXPECT_EQ(clause_terminator(" am fine!", true), '!');
  EXPECT_EQ(clause_terminator("no punctuation at the end", true), 0);
  EXPECT_EQ(clause_terminator("", true), 0);
  EXPECT_EQ(clause_terminator("\xec\x95\x88. \xec\xa0\x80", false), '.');
}

TEST(Phonemize, Utf8) {
  EXPECT_EQ(utf8_to_u32("h\xc9\x99"), U"h\u0259");
  EXPECT_EQ(u32_to_utf8(U"\uC548x\U0001F600"), "\xec\x95\x88x\xf0\x9f\x98\x80");
  EXPECT_THROW(utf8_to_u32("\xc3"), FormatError);
  EXPECT_THROW(utf8_to_u32("\xff"), FormatError);
  EXPECT_THROW(utf8_to_u32("\xc0\x80"), FormatError);  // overlong
  EXPECT_EQ(nfd("\xc3\xa7"), U"c\u0327");                // ç -> c + combining cedilla
}

TEST(Phonemize, LanguageFlagsDropped) {
  // French words in English text make espeak switch language and mark it "(fr)...(en)".
  std::vector<EspeakClause> clauses;
  const auto s = phonemize_espeak("I said bonjour", "en-us", nullptr, &clauses);
  ASSERT_EQ(s.size(), 1u);
  for (char32_t c : s[0]) {
    EXPECT_NE(c, U'(');
    EXPECT_NE(c, U')');
  }
}

TEST(Phonemize, UnknownVoice) {
  EXPECT_THROW(phonemize_espeak("hi", "no-such-voice-xx"), Error);
}

}  // namespace
}  // namespace omni::tts
