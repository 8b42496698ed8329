#include "server/speech.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "asr/resample.h"
#include "core/byte_io.h"
#include "core/error.h"
#include "core/wav_header.h"
#include "server/openai.h"
#include "tts/espeak.h"
#include "tts/piper_voice.h"
#include "tts/wav_writer.h"

namespace omni::server {

namespace {

// OpenAI's voice names → espeak-ng voices when no Piper voice is the default. Variants give each
// name a distinct timbre; "alloy" (OpenAI's first, neutral voice) is plain American English.
const std::pair<const char*, const char*> kOpenAiVoices[] = {
    {"alloy", "en-us"},       {"ash", "en-us+m3"},   {"ballad", "en+m1"},
    {"coral", "en-us+f2"},    {"echo", "en-us+m2"},  {"fable", "en"},
    {"nova", "en-us+f3"},     {"onyx", "en-us+m7"},  {"sage", "en-us+f4"},
    {"shimmer", "en-us+f5"},  {"verse", "en+m4"}};

const char* openai_espeak(const std::string& name) {
  for (const auto& [n, v] : kOpenAiVoices) {
    if (name == n) return v;
  }
  return nullptr;
}

bool is_cjk_stop(std::string_view s, size_t i, size_t& len) {
  static const char* const kStops[] = {"\xE3\x80\x82", "\xEF\xBC\x81", "\xEF\xBC\x9F"};  // 。！？
  for (const char* st : kStops) {
    if (s.substr(i, 3) == st) {
      len = 3;
      return true;
    }
  }
  return false;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<int16_t> to_output_rate(std::span<const int16_t> pcm, int rate) {
  if (rate == kSpeechSampleRate || pcm.empty()) return {pcm.begin(), pcm.end()};
  asr::Audio a;
  a.sample_rate = rate;
  a.samples.resize(pcm.size());
  for (size_t i = 0; i < pcm.size(); ++i) a.samples[i] = pcm[i] / 32768.0f;
  const asr::Audio r = asr::resample(a, kSpeechSampleRate);
  std::vector<int16_t> out(r.samples.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const float v = std::round(r.samples[i] * 32768.0f);
    out[i] = static_cast<int16_t>(std::clamp(v, -32768.0f, 32767.0f));
  }
  return out;
}

}  // namespace

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  auto cut = [&](size_t end) {
    std::string s = trim(text.substr(start, end - start));
    if (!s.empty()) out.push_back(std::move(s));
    start = end;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    size_t len = 0;
    if (c == '\n') {
      cut(i + 1);
    } else if (c == '.' || c == '!' || c == '?') {
      if (i + 1 == text.size() || std::isspace(static_cast<unsigned char>(text[i + 1]))) cut(i + 1);
    } else if (is_cjk_stop(text, i, len)) {
      cut(i + len);
      i += len - 1;
    }
  }
  cut(text.size());
  return out;
}

bool ends_sentence(std::string_view text) {
  size_t e = text.size();
  while (e > 0 && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r')) --e;
  if (e == 0) return false;
  const char c = text[e - 1];
  if (c == '\n' || c == '.' || c == '!' || c == '?') return true;
  size_t len = 0;
  return e >= 3 && is_cjk_stop(text, e - 3, len);
}

std::string wav_header_s16(int sample_rate, uint32_t data_bytes) {
  ByteWriter h;
  put_wav_header(h, kWavFormatPcm, 1, sample_rate, 16, data_bytes);
  return std::string(h.bytes().begin(), h.bytes().end());
}

SpeechEngine::SpeechEngine(const std::string& voice_dir, const std::string& default_voice) {
  namespace fs = std::filesystem;
  if (!voice_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(voice_dir, ec)) throw Error("--voice-dir " + voice_dir + ": not a folder");
    for (const auto& e : fs::directory_iterator(voice_dir, ec)) {
      const fs::path p = e.path();
      if (p.extension() != ".onnx") continue;
      if (!fs::is_regular_file(p.string() + ".json", ec)) continue;
      piper_paths_[p.stem().string()] = p.string();
    }
  }
  if (!default_voice.empty()) {
    if (default_voice.ends_with(".onnx")) {
      if (!fs::is_regular_file(default_voice)) throw Error("--voice " + default_voice + ": no such file");
      default_name_ = fs::path(default_voice).stem().string();
      piper_paths_[default_name_] = default_voice;
      piper(default_name_);  // fail at start-up, not on the first request
    } else {
      default_name_ = default_voice;
      check_voice(default_name_);
    }
  } else {
    default_name_ = "alloy";
  }
}

struct SpeechEngine::LoadedVoice {
  explicit LoadedVoice(tts::PiperVoice v) : voice(std::move(v)) {}
  tts::PiperVoice voice;
  std::mutex mu;  // one synthesis at a time per voice
};

SpeechEngine::~SpeechEngine() = default;

SpeechEngine::LoadedVoice* SpeechEngine::piper(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = loaded_.find(name);
  if (it != loaded_.end()) return it->second.get();
  auto v = std::make_unique<LoadedVoice>(tts::PiperVoice::load(piper_paths_.at(name)));
  return (loaded_[name] = std::move(v)).get();
}

SpeechEngine::Resolved SpeechEngine::resolve(const std::string& requested) {
  const std::string name = requested.empty() ? default_name_ : requested;
  if (piper_paths_.contains(name)) return {piper(name), ""};
  if (const char* v = openai_espeak(name)) {
    // A Piper default voice stands in for every OpenAI name.
    if (piper_paths_.contains(default_name_)) return {piper(default_name_), ""};
    return {nullptr, v};
  }
  return {nullptr, name};
}

void SpeechEngine::check_voice(const std::string& name) {
  const Resolved r = resolve(name);
  if (r.piper) return;
  try {
    tts::Espeak::instance().text_to_phonemes("", r.espeak_voice);
  } catch (const Error&) {
    throw ApiError(400, "Unknown voice '" + name + "'. Use a Piper voice of this server, an "
                        "espeak-ng voice (e.g. 'en-us', 'ko') or an OpenAI voice name.", "voice",
                   "invalid_value");
  }
}

bool SpeechEngine::synthesize(std::string_view text, const SpeechRequest& req,
                              const OnSpeech& on_speech) {
  const Resolved r = resolve(req.voice);
  for (const std::string& sentence : split_sentences(text)) {
    std::vector<int16_t> pcm;
    int rate = 0;
    if (r.piper) {
      const tts::PiperVoice& v = r.piper->voice;
      tts::SpeakOptions o;
      o.length_scale = v.config().length_scale / req.speed;
      std::lock_guard lock(r.piper->mu);
      // Like `omni speak`: each of Piper's sentences is normalised to int16 on its own.
      v.synthesize(sentence, o, [&](const tts::SentenceAudio& s) {
        const auto part = tts::piper_to_int16(s.samples);
        pcm.insert(pcm.end(), part.begin(), part.end());
        return true;
      });
      rate = v.sample_rate();
    } else {
      tts::EspeakSynthOptions o;
      o.voice = r.espeak_voice;
      o.rate = std::clamp(static_cast<int>(std::lround(175 * req.speed)), 80, 450);
      tts::Espeak& e = tts::Espeak::instance();
      e.synthesize(sentence, o, [&](std::span<const int16_t> chunk, bool) {
        pcm.insert(pcm.end(), chunk.begin(), chunk.end());
        return true;
      });
      rate = e.sample_rate();
    }
    const std::vector<int16_t> out = to_output_rate(pcm, rate);
    if (!out.empty() && !on_speech(out)) return false;
  }
  return true;
}

std::vector<std::string> SpeechEngine::voice_names() const {
  std::vector<std::string> names;
  for (const auto& [n, p] : piper_paths_) names.push_back(n);
  for (const auto& [n, v] : kOpenAiVoices) names.push_back(n);
  return names;
}

}  // namespace omni::server
