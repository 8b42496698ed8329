// A Piper voice's `.onnx.json`: sample rate, espeak voice, phoneme -> id table, speakers and
// inference defaults; and Piper's phoneme -> id conversion (BOS, pad after every id, EOS).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tts/phonemize.h"

namespace omni::tts {

struct VoiceConfig {
  int sample_rate = 22050;
  std::string espeak_voice;      // "en-us", "ko", ...
  std::string phoneme_type;      // "espeak" (the only one we phonemise)
  std::map<char32_t, std::vector<int64_t>> phoneme_id_map;
  bool has_phoneme_map = false;  // the config carries "phoneme_map" (even empty)
  PhonemeMap phoneme_map;
  int num_symbols = 0;
  int num_speakers = 1;
  std::map<std::string, int> speaker_id_map;
  // Piper's inference defaults.
  float noise_scale = 0.667f;
  float length_scale = 1.0f;
  float noise_w = 0.8f;

  // The map phonemize_espeak should use: the config's own, else Piper's default for the voice.
  const PhonemeMap* effective_phoneme_map() const;
};

// Parses a config. `source` names the file in error messages. Throws omni::FormatError.
VoiceConfig parse_voice_config(std::string_view json_text, const std::string& source);
VoiceConfig load_voice_config(const std::string& path);

struct PhonemeIds {
  std::vector<int64_t> ids;
  std::map<char32_t, size_t> missing;  // phonemes absent from the id map, with counts
};

// Piper's phonemes_to_ids: "^", pad, then each phoneme's ids followed by pad, then "$".
// Phonemes missing from the map are skipped (and counted).
PhonemeIds phonemes_to_ids(const Phonemes& phonemes, const VoiceConfig& config);

}  // namespace omni::tts
