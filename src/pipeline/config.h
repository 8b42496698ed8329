// Omni's configuration: one TOML file plus command-line flags, every value with its origin.
//
//   [asr]      engine = "whisper" | "pocketsphinx" | "remote", model, language, threads, url, ...
//   [llm]      model (GGUF path) or url + remote_model + api_key_env, system_prompt, sampling, ctx
//   [vision]   mode = "embed" | "ocr" | "caption" | "auto", mmproj, ocr_lang
//   [tts]      engine = "espeak" | "piper" | "remote", voice, rate, pitch, url, ...
//   [server]   host, port, api_key, parallel, queue, max_body, timeout, cors
//   [pipeline] VAD thresholds, clause chunker latency
//
// The file is $OMNI_CONFIG, else $XDG_CONFIG_HOME/omni/omni.toml, else ~/.config/omni/omni.toml
// (a missing default file just means defaults; a missing named file is an error). Unknown
// sections/keys and wrong types are errors naming the key and line. Flags override the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace omni::pipeline {

enum class ConfigSource { kDefault, kFile, kFlag };
std::string_view source_name(ConfigSource s);

using ConfigValue = std::variant<bool, int64_t, double, std::string>;

struct ConfigEntry {
  std::string key;  // "section.name"
  ConfigValue value;
  ConfigSource source = ConfigSource::kDefault;
  std::string help;
  std::vector<std::string> choices;  // allowed strings; empty: any
  bool secret = false;               // masked by `config show`
};

class Config {
 public:
  // All settings at their defaults.
  Config();
  // Defaults, then the file (see above). `explicit_path` empty: the default locations.
  static Config load(const std::string& explicit_path = "");
  // Default file location (ignores whether it exists).
  static std::string default_path();

  // Applies a TOML document; `name` appears in errors ("omni.toml:12: ..."). Throws omni::Error.
  void apply_toml(std::string_view text, const std::string& name);
  // A flag: `value` is parsed for the key's type. Throws omni::Error for an unknown key, a
  // value of the wrong type or outside the key's choices.
  void set_flag(const std::string& key, const std::string& value);
  // "key=value" as given to --set.
  void set_flag_assignment(const std::string& assignment);

  const std::vector<ConfigEntry>& entries() const { return entries_; }
  const ConfigEntry& entry(std::string_view key) const;  // throws for an unknown key
  const std::string& str(std::string_view key) const;
  int64_t integer(std::string_view key) const;
  double number(std::string_view key) const;
  bool boolean(std::string_view key) const;
  // The file that was read ("" when none).
  const std::string& file() const { return file_; }

  // {"file": ..., "asr": {"engine": {"value": ..., "source": "default"}, ...}, ...}
  nlohmann::ordered_json to_json() const;
  // TOML-like text with the origin of each value in a trailing comment.
  std::string to_text() const;

 private:
  ConfigEntry* find(std::string_view key);
  std::vector<ConfigEntry> entries_;
  std::string file_;
};

}  // namespace omni::pipeline
