#include "tts/voice_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tts/file.h"

namespace omni::tts {
namespace {

using nlohmann::json;

char32_t single_code_point(const std::string& key, const std::string& where) {
  std::u32string cps;
  try {
    cps = utf8_to_u32(key);
  } catch (const FormatError& e) {
    throw FormatError(where + ": " + e.what());
  }
  if (cps.size() != 1) throw FormatError(where + ": key '" + key + "' is not one code point");
  return cps[0];
}

const json& require(const json& obj, const char* key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) {
    throw FormatError(where + ": missing \"" + key + "\"");
  }
  return obj.at(key);
}

// get_ptr instead of get<std::string>(): GCC's -Wnull-dereference trips inside json's getter.
std::string string_value(const json& v, const std::string& where) {
  const auto* p = v.get_ptr<const std::string*>();
  if (!p) throw FormatError(where + " is not a string");
  return *p;
}

template <typename T>
T number(const json& v, const std::string& where) {
  if (!v.is_number()) throw FormatError(where + " is not a number");
  return v.get<T>();
}

}  // namespace

const PhonemeMap* VoiceConfig::effective_phoneme_map() const {
  if (has_phoneme_map) return phoneme_map.empty() ? nullptr : &phoneme_map;
  return default_phoneme_map(espeak_voice);
}

VoiceConfig parse_voice_config(std::string_view json_text, const std::string& source) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw FormatError(source + ": invalid JSON: " + e.what());
  }
  if (!root.is_object()) throw FormatError(source + ": not a JSON object");
  VoiceConfig c;
  try {
    const json& audio = require(root, "audio", source);
    c.sample_rate = number<int>(require(audio, "sample_rate", source + ": audio"),
                                source + ": audio.sample_rate");
    if (c.sample_rate < 1000 || c.sample_rate > 192000) {
      throw FormatError(source + ": audio.sample_rate " + std::to_string(c.sample_rate) +
                        " out of range");
    }
    c.phoneme_type = root.contains("phoneme_type")
                         ? string_value(root.at("phoneme_type"), source + ": phoneme_type")
                         : std::string("espeak");
    if (root.contains("espeak")) {
      const json& voice = require(root.at("espeak"), "voice", source + ": espeak");
      c.espeak_voice = string_value(voice, source + ": espeak.voice");
    }
    if (c.phoneme_type == "espeak" && c.espeak_voice.empty()) {
      throw FormatError(source + ": missing espeak.voice");
    }
    if (root.contains("inference")) {
      const json& inf = root.at("inference");
      if (!inf.is_object()) throw FormatError(source + ": inference is not an object");
      if (inf.contains("noise_scale")) {
        c.noise_scale = number<float>(inf.at("noise_scale"), source + ": inference.noise_scale");
      }
      if (inf.contains("length_scale")) {
        c.length_scale = number<float>(inf.at("length_scale"), source + ": inference.length_scale");
      }
      if (inf.contains("noise_w")) {
        c.noise_w = number<float>(inf.at("noise_w"), source + ": inference.noise_w");
      }
    }
    const json& id_map = require(root, "phoneme_id_map", source);
    if (!id_map.is_object() || id_map.empty()) {
      throw FormatError(source + ": phoneme_id_map is not a non-empty object");
    }
    for (const auto& [key, ids] : id_map.items()) {
      const std::string where = source + ": phoneme_id_map[\"" + key + "\"]";
      const char32_t cp = single_code_point(key, source + ": phoneme_id_map");
      if (!ids.is_array() || ids.empty()) throw FormatError(where + " is not a non-empty array");
      std::vector<int64_t> v;
      for (const json& id : ids) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0) {
          throw FormatError(where + " holds a non-integer or negative id");
        }
        v.push_back(id.get<int64_t>());
      }
      c.phoneme_id_map[cp] = std::move(v);
    }
    for (const char32_t needed : {U'^', U'_', U'$'}) {
      if (!c.phoneme_id_map.count(needed)) {
        throw FormatError(source + ": phoneme_id_map lacks \"" +
                          u32_to_utf8(std::u32string(1, needed)) + "\"");
      }
    }
    if (root.contains("phoneme_map")) {
      const json& pm = root.at("phoneme_map");
      if (!pm.is_object()) throw FormatError(source + ": phoneme_map is not an object");
      c.has_phoneme_map = true;
      for (const auto& [key, to] : pm.items()) {
        const char32_t from = single_code_point(key, source + ": phoneme_map");
        if (!to.is_array()) throw FormatError(source + ": phoneme_map[\"" + key + "\"] not array");
        std::u32string repl;
        for (const json& t : to) {
          repl += utf8_to_u32(string_value(t, source + ": phoneme_map value"));
        }
        c.phoneme_map[from] = repl;
      }
    }
    c.num_symbols = root.value("num_symbols", 0);
    c.num_speakers = root.value("num_speakers", 1);
    if (c.num_speakers < 1) throw FormatError(source + ": num_speakers < 1");
    if (root.contains("speaker_id_map")) {
      const json& sm = root.at("speaker_id_map");
      if (!sm.is_object()) throw FormatError(source + ": speaker_id_map is not an object");
      for (const auto& [name, id] : sm.items()) {
        if (!id.is_number_integer()) throw FormatError(source + ": speaker_id_map value");
        c.speaker_id_map[name] = id.get<int>();
      }
    }
  } catch (const json::exception& e) {
    throw FormatError(source + ": " + e.what());
  }
  return c;
}

VoiceConfig load_voice_config(const std::string& path) {
  return parse_voice_config(read_whole_file(path), path);
}

PhonemeIds phonemes_to_ids(const Phonemes& phonemes, const VoiceConfig& config) {
  const auto& map = config.phoneme_id_map;
  const auto& bos = map.at(U'^');
  const auto& pad = map.at(U'_');
  const auto& eos = map.at(U'$');
  PhonemeIds out;
  out.ids.insert(out.ids.end(), bos.begin(), bos.end());
  out.ids.insert(out.ids.end(), pad.begin(), pad.end());
  for (char32_t p : phonemes) {
    auto it = map.find(p);
    if (it == map.end()) {
      ++out.missing[p];
      continue;
    }
    out.ids.insert(out.ids.end(), it->second.begin(), it->second.end());
    out.ids.insert(out.ids.end(), pad.begin(), pad.end());
  }
  out.ids.insert(out.ids.end(), eos.begin(), eos.end());
  return out;
}

}  // namespace omni::tts
