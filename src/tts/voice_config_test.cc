#include "tts/voice_config.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "testing/refdata.h"

namespace omni::tts {
namespace {

TEST(VoiceConfig, LoadsTiny) {
  const VoiceConfig c = load_voice_config(omni::testing::refdata("tts/models/tiny.onnx.json"));
  EXPECT_EQ(c.sample_rate, 22050);
  EXPECT_EQ(c.espeak_voice, "en-us");
  EXPECT_EQ(c.phoneme_id_map.size(), 154u);
  EXPECT_FLOAT_EQ(c.noise_scale, 0.667f);
  EXPECT_FLOAT_EQ(c.length_scale, 1.0f);
  EXPECT_FLOAT_EQ(c.noise_w, 0.8f);
  EXPECT_EQ(c.num_speakers, 1);
  EXPECT_EQ(c.phoneme_id_map.at(U'\u0259'), std::vector<int64_t>{59});
  const VoiceConfig ko = load_voice_config(omni::testing::refdata("tts/models/tiny-ko.onnx.json"));
  EXPECT_EQ(ko.espeak_voice, "ko");
  EXPECT_EQ(ko.phoneme_id_map.size(), 159u);
  const VoiceConfig ms = load_voice_config(omni::testing::refdata("tts/models/tiny-ms.onnx.json"));
  EXPECT_EQ(ms.num_speakers, 2);
}

TEST(VoiceConfig, IdsInterleavePad) {
  const VoiceConfig c = load_voice_config(omni::testing::refdata("tts/models/tiny.onnx.json"));
  const PhonemeIds ids = phonemes_to_ids(U"h\u0259\U0001F600.", c);
  EXPECT_EQ(ids.ids, (std::vector<int64_t>{1, 0, 20, 0, 59, 0, 10, 0, 2}));
  ASSERT_EQ(ids.missing.size(), 1u);
  EXPECT_EQ(ids.missing.begin()->first, U'\U0001F600');
}

TEST(VoiceConfig, HostileConfigs) {
  const char* bad[] = {
      "", "[]", "{", R"({"audio":{}})",
      R"({"audio":{"sample_rate":"x"},"espeak":{"voice":"en-us"},"phoneme_id_map":{}})",
      R"({"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},"phoneme_id_map":{"ab":[1]}})",
      R"({"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},"phoneme_id_map":{"a":[-1]}})",
      R"({"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},"phoneme_id_map":{"a":[1]}})",
      R"({"audio":{"sample_rate":22050},"espeak":{"voice":5},"phoneme_id_map":{"a":[1]}})",
      R"({"audio":{"sample_rate":0},"espeak":{"voice":"en-us"},"phoneme_id_map":{"a":[1]}})",
  };
  for (const char* json : bad) {
    EXPECT_THROW(parse_voice_config(json, "v.json"), FormatError) << json;
  }
  try {
    parse_voice_config(R"({"espeak":{"voice":"en-us"}})", "v.json");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("v.json: missing \"audio\""), std::string::npos);
  }
}

}  // namespace
}  // namespace omni::tts
