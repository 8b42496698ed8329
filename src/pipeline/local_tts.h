// Text to speech on this machine: espeak-ng's own formant voices (zero downloads, English and
// Korean) and Piper VITS voices (`voice.onnx` + `.onnx.json`) on our engine.
#pragma once

#include <memory>
#include <string>

#include "pipeline/stages.h"
#include "tts/piper_voice.h"

namespace omni::pipeline {

class EspeakTts : public TextToSpeech {
 public:
  // `voice`: an espeak voice ("en-us", "ko", "en+f3"); "en" means "en-us". Checked on first use.
  explicit EspeakTts(std::string voice = "en-us", int rate_wpm = 175);

  std::string name() const override { return "espeak:" + voice_; }
  int sample_rate() const override;
  // options.voice overrides the constructor's voice; speed scales the words-per-minute rate.
  bool synthesize(std::string_view text, const TtsOptions& options, const CancelToken& cancel,
                  const OnAudio& on_audio) override;

 private:
  std::string voice_;
  int rate_wpm_;
};

class PiperTts : public TextToSpeech {
 public:
  // Throws omni::Error / FormatError for a bad voice; chunk_frames: decoder frames per chunk.
  explicit PiperTts(const std::string& onnx_path, int chunk_frames = 32);

  std::string name() const override { return name_; }
  int sample_rate() const override { return voice_.sample_rate(); }
  // options.voice: a speaker number or name (multi-speaker voices); speed divides length_scale.
  bool synthesize(std::string_view text, const TtsOptions& options, const CancelToken& cancel,
                  const OnAudio& on_audio) override;

 private:
  std::string name_;
  tts::PiperVoice voice_;
  int chunk_frames_;
};

// "espeak:en", "espeak:ko", "espeak:<voice>", "en", "ko" → espeak; a path ending in .onnx (or an
// existing file) → Piper. Throws omni::Error for an unusable spec.
std::unique_ptr<TextToSpeech> make_tts(const std::string& spec);

}  // namespace omni::pipeline
