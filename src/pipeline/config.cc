#include "pipeline/config.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "core/error.h"

namespace omni::pipeline {
namespace {

ConfigEntry make(std::string key, ConfigValue v, std::string help,
                 std::vector<std::string> choices = {}, bool secret = false) {
  return {std::move(key), std::move(v), ConfigSource::kDefault, std::move(help), std::move(choices),
          secret};
}

std::string type_name(const ConfigValue& v) {
  switch (v.index()) {
    case 0: return "a boolean";
    case 1: return "an integer";
    case 2: return "a number";
    default: return "a string";
  }
}

std::string value_text(const ConfigValue& v) {
  std::ostringstream s;
  std::visit([&](const auto& x) {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<T, bool>) {
      s << (x ? "true" : "false");
    } else if constexpr (std::is_same_v<T, std::string>) {
      s << nlohmann::json(x).dump();
    } else {
      s << x;
    }
  }, v);
  return s.str();
}

}  // namespace

std::string_view source_name(ConfigSource s) {
  switch (s) {
    case ConfigSource::kDefault: return "default";
    case ConfigSource::kFile: return "file";
    case ConfigSource::kFlag: return "flag";
  }
  return "?";
}

Config::Config() {
  using S = std::string;
  entries_ = {
      make("asr.engine", S("pocketsphinx"), "speech recognizer", {"whisper", "pocketsphinx", "remote"}),
      make("asr.model", S(""), "whisper ggml file (name in the models folder or path)"),
      make("asr.language", S("en"), "spoken language (ISO 639-1)"),
      make("asr.final_context", S("fitted"),
           "whisper end-of-turn pass: encode the audio present (fitted) or a full 30 s window",
           {"fitted", "full"}),
      make("asr.pocketsphinx_grammar", S(""),
           "pocketsphinx: a JSGF grammar file (commands, digits) instead of open English"),
      make("asr.threads", int64_t{0}, "compute threads (0: all cores)"),
      make("asr.url", S(""), "remote: base URL of an OpenAI-compatible server"),
      make("asr.remote_model", S("whisper-1"), "remote: model name sent to the server"),
      make("asr.api_key_env", S("OPENAI_API_KEY"), "remote: environment variable holding the key"),

      make("llm.model", S(""), "GGUF file (name in the models folder or path)"),
      make("llm.url", S(""), "remote: base URL of an OpenAI-compatible server (empty: local)"),
      make("llm.remote_model", S(""), "remote: model name sent to the server"),
      make("llm.api_key_env", S("OPENAI_API_KEY"), "remote: environment variable holding the key"),
      make("llm.system_prompt", S("You are a helpful voice assistant. Answer briefly."), "system prompt"),
      make("llm.temperature", 0.7, "sampling temperature (0: greedy)"),
      make("llm.top_k", int64_t{40}, "top-k sampling (0: off)"),
      make("llm.top_p", 0.95, "nucleus sampling"),
      make("llm.min_p", 0.05, "min-p sampling"),
      make("llm.repeat_penalty", 1.0, "repetition penalty (1: off)"),
      make("llm.seed", int64_t{-1}, "sampling seed (-1: random)"),
      make("llm.max_tokens", int64_t{512}, "longest answer in tokens"),
      make("llm.ctx", int64_t{4096}, "context size in tokens"),
      make("llm.threads", int64_t{0}, "compute threads (0: all cores)"),

      make("vision.mode", S("auto"), "how an image reaches the LLM", {"embed", "ocr", "caption", "auto"}),
      make("vision.mmproj", S(""), "projector GGUF for the embeddings path"),
      make("vision.ocr_lang", S("eng"), "tesseract languages (e.g. eng+kor)"),

      make("tts.engine", S("espeak"), "speech synthesizer", {"espeak", "piper", "remote"}),
      make("tts.voice", S("en"), "espeak voice, Piper .onnx file, or remote voice name"),
      make("tts.rate", int64_t{175}, "words per minute (espeak)"),
      make("tts.pitch", int64_t{50}, "pitch 0-100 (espeak)"),
      make("tts.speaker", int64_t{0}, "speaker id of a multi-speaker Piper voice"),
      make("tts.url", S(""), "remote: base URL of an OpenAI-compatible server"),
      make("tts.remote_model", S("tts-1"), "remote: model name sent to the server"),
      make("tts.api_key_env", S("OPENAI_API_KEY"), "remote: environment variable holding the key"),

      make("server.host", S("127.0.0.1"), "address to bind"),
      make("server.port", int64_t{8080}, "port"),
      make("server.api_key", S(""), "required bearer key on /v1/* (empty: none)", {}, true),
      make("server.parallel", int64_t{1}, "requests generated at once"),
      make("server.queue", int64_t{16}, "requests waiting for a slot"),
      make("server.max_body", int64_t{1 << 20}, "largest request body in bytes"),
      make("server.timeout", int64_t{600}, "per-request time limit in seconds"),
      make("server.cors", S(""), "allowed CORS origin (empty: off)"),

      make("pipeline.vad", true, "end a spoken turn by voice activity (trims silence after a file)"),
      make("pipeline.vad_energy_db", -45.0, "frames quieter than this (dBFS) are never speech"),
      make("pipeline.vad_noise_margin_db", 12.0, "speech must be this far above the noise floor"),
      make("pipeline.vad_zcr_max", 0.30, "zero-crossing rate above which a quiet frame is noise"),
      make("pipeline.vad_hangover_ms", int64_t{600}, "silence that ends an utterance"),
      make("pipeline.vad_min_speech_ms", int64_t{60}, "shortest speech that starts an utterance"),
      make("pipeline.vad_pause_ms", int64_t{120},
           "silence after which a speculative answer starts (0: off; below the hangover)"),
      make("pipeline.speculate", true,
           "start answering at a pause, cancel it if speech resumes (needs vad_pause_ms)"),
      make("pipeline.speculative_hold_ms", int64_t{250},
           "a speculative answer's audio waits for this much silence (or the end of the turn)"),
      make("pipeline.chunker_max_latency_ms", int64_t{600}, "flush text to TTS after this long"),
      make("pipeline.chunker_min_chars", int64_t{12}, "shortest clause sent to TTS alone"),
      make("pipeline.chunker_first_latency_ms", int64_t{80},
           "flush the answer's first clause to TTS after this long (0: chunker_max_latency_ms)"),
      make("pipeline.chunker_first_words", int64_t{4},
           "send the answer's first clause to TTS once it has this many words (0: off)"),
  };
}

std::string Config::default_path() {
  if (const char* e = std::getenv("OMNI_CONFIG"); e && *e) return e;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/omni/omni.toml";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.config/omni/omni.toml";
}

Config Config::load(const std::string& explicit_path) {
  Config c;
  const bool named = !explicit_path.empty() || std::getenv("OMNI_CONFIG");
  const std::string path = explicit_path.empty() ? default_path() : explicit_path;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (named) throw Error(path + ": cannot read the configuration file");
    return c;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  c.apply_toml(ss.str(), path);
  c.file_ = path;
  return c;
}

ConfigEntry* Config::find(std::string_view key) {
  for (auto& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const ConfigEntry& Config::entry(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return e;
  }
  throw Error("configuration: no setting '" + std::string(key) + "'");
}

const std::string& Config::str(std::string_view key) const {
  const auto* v = std::get_if<std::string>(&entry(key).value);
  if (!v) throw Error("configuration: " + std::string(key) + " is not a string");
  return *v;
}
int64_t Config::integer(std::string_view key) const {
  const auto* v = std::get_if<int64_t>(&entry(key).value);
  if (!v) throw Error("configuration: " + std::string(key) + " is not an integer");
  return *v;
}
double Config::number(std::string_view key) const {
  const auto* v = std::get_if<double>(&entry(key).value);
  if (!v) throw Error("configuration: " + std::string(key) + " is not a number");
  return *v;
}
bool Config::boolean(std::string_view key) const {
  const auto* v = std::get_if<bool>(&entry(key).value);
  if (!v) throw Error("configuration: " + std::string(key) + " is not a boolean");
  return *v;
}

namespace {

void check_choice(const ConfigEntry& e, const std::string& where) {
  if (e.choices.empty()) return;
  const auto& s = std::get<std::string>(e.value);
  for (const auto& c : e.choices) {
    if (c == s) return;
  }
  std::string list;
  for (const auto& c : e.choices) list += (list.empty() ? "" : ", ") + c;
  throw Error(where + e.key + " = \"" + s + "\" is not one of: " + list);
}

}  // namespace

void Config::apply_toml(std::string_view text, const std::string& name) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& err) {
    throw Error(name + ":" + std::to_string(err.source().begin.line) + ": " +
                std::string(err.description()));
  }
  const auto where = [&](const toml::node& n) {
    return name + ":" + std::to_string(n.source().begin.line) + ": ";
  };
  for (auto&& [section, node] : root) {
    const std::string sec(section.str());
    const toml::table* tbl = node.as_table();
    bool known_section = false;
    for (const auto& e : entries_) known_section |= e.key.starts_with(sec + ".");
    if (!known_section) {
      throw Error(where(node) + "unknown " + (tbl ? "section [" + sec + "]" : "key '" + sec + "'") +
                  " (sections: asr, llm, vision, tts, server, pipeline)");
    }
    if (!tbl) throw Error(where(node) + "'" + sec + "' must be a section ([" + sec + "])");
    for (auto&& [k, v] : *tbl) {
      const std::string key = sec + "." + std::string(k.str());
      ConfigEntry* e = find(key);
      if (!e) throw Error(where(v) + "unknown key '" + key + "'");
      const std::string at = where(v);
      bool ok = true;
      switch (e->value.index()) {
        case 0:
          if (auto b = v.value<bool>(); b && v.is_boolean()) e->value = *b; else ok = false;
          break;
        case 1:
          if (v.is_integer()) e->value = v.as_integer()->get(); else ok = false;
          break;
        case 2:
          if (v.is_floating_point()) e->value = v.as_floating_point()->get();
          else if (v.is_integer()) e->value = static_cast<double>(v.as_integer()->get());
          else ok = false;
          break;
        default:
          if (v.is_string()) e->value = v.as_string()->get(); else ok = false;
      }
      if (!ok) throw Error(at + key + " must be " + type_name(e->value));
      check_choice(*e, at);
      e->source = ConfigSource::kFile;
    }
  }
}

void Config::set_flag(const std::string& key, const std::string& value) {
  ConfigEntry* e = find(key);
  if (!e) throw Error("unknown setting '" + key + "'");
  const std::string bad = "flag " + key + "=" + value + ": must be " + type_name(e->value);
  switch (e->value.index()) {
    case 0:
      if (value == "true" || value == "1" || value == "on") e->value = true;
      else if (value == "false" || value == "0" || value == "off") e->value = false;
      else throw Error(bad);
      break;
    case 1: {
      char* end = nullptr;
      errno = 0;
      const long long x = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end || errno) throw Error(bad);
      e->value = static_cast<int64_t>(x);
      break;
    }
    case 2: {
      char* end = nullptr;
      const double x = std::strtod(value.c_str(), &end);
      if (value.empty() || *end) throw Error(bad);
      e->value = x;
      break;
    }
    default:
      e->value = value;
  }
  check_choice(*e, "flag ");
  e->source = ConfigSource::kFlag;
}

void Config::set_flag_assignment(const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos) throw Error("--set wants KEY=VALUE, got '" + assignment + "'");
  set_flag(assignment.substr(0, eq), assignment.substr(eq + 1));
}

nlohmann::ordered_json Config::to_json() const {
  nlohmann::ordered_json j;
  j["file"] = file_.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(file_);
  for (const auto& e : entries_) {
    const size_t dot = e.key.find('.');
    nlohmann::ordered_json v;
    if (e.secret && !std::get<std::string>(e.value).empty()) {
      v = "***";
    } else {
      std::visit([&](const auto& x) { v = x; }, e.value);
    }
    j[e.key.substr(0, dot)][e.key.substr(dot + 1)] = {{"value", v}, {"source", source_name(e.source)}};
  }
  return j;
}

std::string Config::to_text() const {
  std::ostringstream out;
  out << "# configuration file: " << (file_.empty() ? "(none; defaults)" : file_) << "\n";
  std::string section;
  for (const auto& e : entries_) {
    const size_t dot = e.key.find('.');
    if (e.key.substr(0, dot) != section) {
      section = e.key.substr(0, dot);
      out << "\n[" << section << "]\n";
    }
    const std::string v = e.secret && !std::get<std::string>(e.value).empty() ? "\"***\""
                                                                              : value_text(e.value);
    std::string line = e.key.substr(dot + 1) + " = " + v;
    if (line.size() < 44) line.resize(44, ' ');
    out << line << "  # " << source_name(e.source) << "\n";
  }
  return out.str();
}

}  // namespace omni::pipeline
