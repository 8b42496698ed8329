// A Piper voice as users have it (`voice.onnx` + `voice.onnx.json`): text in, audio out,
// sentence by sentence. Each sentence is phonemised, converted to ids and synthesised, and its
// audio is handed to the caller before the next sentence is started.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tts/vits.h"
#include "tts/voice_config.h"

namespace omni::tts {

struct SpeakOptions {
  // Unset: the voice config's inference defaults.
  std::optional<float> noise_scale, length_scale, noise_w;
  int speaker = 0;
  uint64_t seed = 0;
  ThreadPool* pool = nullptr;
};

struct SentenceAudio {
  size_t index = 0;               // 0-based sentence number
  std::string phonemes;           // IPA (UTF-8)
  std::vector<int64_t> ids;       // phoneme ids fed to the model
  std::vector<float> samples;     // float audio at the voice's sample rate
};

// Return false to stop before the next sentence.
using OnSentence = std::function<bool(const SentenceAudio&)>;

class PiperVoice {
 public:
  // `config_path` empty: onnx_path + ".json". Throws omni::Error / FormatError.
  static PiperVoice load(const std::string& onnx_path, const std::string& config_path = "");

  const VoiceConfig& config() const { return config_; }
  const VitsModel& model() const { return model_; }
  int sample_rate() const { return config_.sample_rate; }

  // Streams sentence by sentence; returns false if on_sentence stopped it.
  bool synthesize(std::string_view text, const SpeakOptions& options,
                  const OnSentence& on_sentence) const;

  // Lowest latency: each sentence's audio in decoder chunks of about `chunk_frames` frames
  // (VitsModel::synthesize_streaming), first chunk as soon as it is decoded. `last` marks a
  // sentence's final chunk. Return false to stop; returns false if stopped.
  // The first chunk of each sentence is at most kFirstChunkFrames long (~0.19 s of audio at
  // 22050 Hz): cheap to decode, yet long enough to cover computing the next chunk.
  static constexpr int kFirstChunkFrames = 16;
  using OnChunk = std::function<bool(size_t sentence, std::span<const float> samples, bool last)>;
  bool synthesize_chunks(std::string_view text, const SpeakOptions& options, int chunk_frames,
                         const OnChunk& on_chunk) const;

  // All sentences concatenated, with `silence_seconds` of zeros between sentences (Piper puts
  // 0.2 s after each; none is added after the last so one sentence is exactly the model output).
  std::vector<float> synthesize_all(std::string_view text, const SpeakOptions& options,
                                    float silence_seconds = 0.2f) const;

 private:
  VoiceConfig config_;
  VitsModel model_;
};

}  // namespace omni::tts
