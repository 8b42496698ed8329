// Text to speech for the server: voice names → engines, and sentence-by-sentence synthesis as
// 16-bit PCM at one output rate (24 kHz, what OpenAI's `pcm` format promises), so a response
// can be streamed while later sentences are still being synthesised.
//
// Voices: every Piper voice found in --voice-dir (name = file stem of NAME.onnx with
// NAME.onnx.json beside it) and the --voice file; any espeak-ng voice name ("en-us", "en-gb",
// "ko", "en-us+f3", ...); and OpenAI's voice names (alloy, ash, ballad, coral, echo, fable,
// nova, onyx, sage, shimmer, verse), which map to the --voice file when one is given and
// otherwise to fixed espeak-ng voices (kOpenAiVoices in speech.cc: "alloy" is plain en-us).
// Piper voices are loaded on first use and kept.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace omni::tts {
class PiperVoice;
}

namespace omni::server {

inline constexpr int kSpeechSampleRate = 24000;

struct SpeechRequest {
  std::string voice;   // a name as above; empty: the default voice
  float speed = 1.0f;  // 0.25..4
};

// Called per synthesised sentence with its 24 kHz PCM; return false to stop.
using OnSpeech = std::function<bool(std::span<const int16_t> pcm)>;

class SpeechEngine {
 public:
  // `voice_dir` / `default_voice` may be empty. Throws omni::Error if a given path is unusable.
  SpeechEngine(const std::string& voice_dir, const std::string& default_voice);
  ~SpeechEngine();

  // Throws ApiError 400 for a voice name that is none of the above.
  void check_voice(const std::string& name);
  // Synthesises `text` sentence by sentence. Returns false if on_speech stopped it.
  bool synthesize(std::string_view text, const SpeechRequest& req, const OnSpeech& on_speech);
  // Piper voice names, then "espeak:<default>" style names the UI can offer.
  std::vector<std::string> voice_names() const;
  // The voice used for an empty name.
  std::string default_voice() const { return default_name_; }

 private:
  struct LoadedVoice;
  struct Resolved {
    LoadedVoice* piper = nullptr;  // else espeak
    std::string espeak_voice;
  };
  Resolved resolve(const std::string& name);
  LoadedVoice* piper(const std::string& name);

  std::map<std::string, std::string> piper_paths_;  // name → .onnx
  std::map<std::string, std::unique_ptr<LoadedVoice>> loaded_;
  std::string default_name_;
  std::mutex mu_;  // guards loaded_
};

// Splits text into sentences for incremental synthesis: after . ! ? (and their CJK forms) when
// followed by space or the end, and at line breaks. Pieces keep their punctuation, are trimmed
// and never empty.
std::vector<std::string> split_sentences(std::string_view text);

// True when `text` ends a sentence as split_sentences sees it (a final stop or line break,
// ignoring trailing spaces other than the line break).
bool ends_sentence(std::string_view text);

// 44-byte WAV header for 16-bit mono PCM. `data_bytes` unknown (streaming): 0xFFFFFFFF sizes,
// which players and our own reader take as "until the end of the file".
std::string wav_header_s16(int sample_rate, uint32_t data_bytes = 0xFFFFFFFFu);

}  // namespace omni::server
