#include "pipeline/local_tts.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "tts/espeak.h"

namespace omni::pipeline {

EspeakTts::EspeakTts(std::string voice, int rate_wpm)
    : voice_(voice == "en" ? "en-us" : std::move(voice)), rate_wpm_(rate_wpm) {}

int EspeakTts::sample_rate() const { return tts::Espeak::instance().sample_rate(); }

bool EspeakTts::synthesize(std::string_view text, const TtsOptions& options,
                           const CancelToken& cancel, const OnAudio& on_audio) {
  tts::EspeakSynthOptions o;
  o.voice = options.voice.empty() ? voice_ : (options.voice == "en" ? "en-us" : options.voice);
  o.rate = static_cast<int>(std::lround(rate_wpm_ * std::clamp(options.speed, 0.25f, 4.0f)));
  o.pitch = options.pitch;
  o.volume = options.volume;
  auto& es = tts::Espeak::instance();
  const int rate = es.sample_rate();
  if (cancel.cancelled()) return false;
  std::vector<float> buf;
  bool stopped = false;
  const bool done = es.synthesize(text, o, [&](std::span<const int16_t> pcm, bool) {
    if (cancel.cancelled()) {
      stopped = true;
      return false;
    }
    if (pcm.empty()) return true;
    buf = tts::pcm_to_float(pcm);
    if (!on_audio(AudioChunk{buf, rate, false}) || cancel.cancelled()) {
      stopped = true;
      return false;
    }
    return true;
  });
  if (!done || stopped) return false;
  // The end marker comes after the last real chunk (espeak does not say which chunk is last).
  return on_audio(AudioChunk{{}, rate, true});
}

PiperTts::PiperTts(const std::string& onnx_path, int chunk_frames)
    : name_("piper:" + std::filesystem::path(onnx_path).filename().string()),
      voice_(tts::PiperVoice::load(onnx_path)),
      chunk_frames_(chunk_frames) {}

bool PiperTts::synthesize(std::string_view text, const TtsOptions& options,
                          const CancelToken& cancel, const OnAudio& on_audio) {
  tts::SpeakOptions o;
  if (!options.voice.empty()) {
    const auto& map = voice_.config().speaker_id_map;
    if (auto it = map.find(options.voice); it != map.end()) {
      o.speaker = it->second;
    } else if (options.voice.find_first_not_of("0123456789") == std::string::npos &&
               options.voice.size() < 6) {
      o.speaker = std::stoi(options.voice);
    } else {
      throw Error(name_ + ": unknown speaker '" + options.voice + "'");
    }
    if (o.speaker >= voice_.model().num_speakers()) {
      throw Error(name_ + ": speaker " + options.voice + " out of range");
    }
  }
  if (options.speed > 0 && options.speed != 1.0f) {
    const float base = voice_.config().length_scale;
    o.length_scale = base / std::clamp(options.speed, 0.25f, 4.0f);
  }
  if (cancel.cancelled()) return false;
  const int rate = voice_.sample_rate();
  const bool done = voice_.synthesize_chunks(
      text, o, chunk_frames_, [&](size_t, std::span<const float> samples, bool) {
        if (cancel.cancelled()) return false;
        return on_audio(AudioChunk{samples, rate, false}) && !cancel.cancelled();
      });
  if (!done) return false;
  return on_audio(AudioChunk{{}, rate, true});
}

std::unique_ptr<TextToSpeech> make_tts(const std::string& spec) {
  if (spec.empty()) return std::make_unique<EspeakTts>("en-us");
  if (spec.starts_with("espeak:")) {
    const std::string v = spec.substr(7);
    if (v.empty()) throw Error("--voice espeak: needs a voice name (espeak:en, espeak:ko, ...)");
    return std::make_unique<EspeakTts>(v);
  }
  if (spec.ends_with(".onnx") || std::filesystem::is_regular_file(spec)) {
    return std::make_unique<PiperTts>(spec);
  }
  return std::make_unique<EspeakTts>(spec);
}

}  // namespace omni::pipeline
