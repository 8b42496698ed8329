// High-level Whisper speech recognition: load a whisper.cpp ggml model, transcribe audio into
// text and timed segments with whisper.cpp's greedy decoding rules (prompt, logit filters,
// timestamp rules, 30 s windows advanced by `seek`, failure marking).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "asr/audio.h"
#include "asr/whisper_model.h"

namespace omni {
class ThreadPool;
}

namespace omni::asr {

struct TranscribeOptions {
  std::string language = "en";  // ISO code ("en", "de", ...); ignored by English-only models
  bool translate = false;       // task token translate instead of transcribe
  bool no_timestamps = false;   // decode without timestamp tokens (one segment per window)
  bool suppress_blank = true;
  float max_initial_ts = 1.0f;  // seconds
  float entropy_thold = 2.4f;
  float logprob_thold = -1.0f;
  float no_speech_thold = 0.6f;
  // Encoder frames per window (whisper.cpp's audio_ctx): 0 = the model's n_audio_ctx (1500 =
  // 30 s). Smaller values encode only the first audio_ctx * 20 ms of each window (positional
  // embedding sliced) and the decoder attends to those frames only: much faster for short audio,
  // at some loss of accuracy. Values above n_audio_ctx are clamped.
  int audio_ctx = 0;
  // Cap on the tokens sampled per 30 s window; a window that reaches it ends there and keeps
  // what it decoded (0 = the model's limit, n_text_ctx / 2 - 4). Benchmarks with random-weight
  // models use it to simulate a trained model's transcript length (random weights never sample
  // end-of-text, so they would always decode to the limit).
  int max_decode_tokens = 0;
};

// One sampled token as whisper.cpp reports it.
struct WhisperTokenData {
  int32_t id = 0;
  int32_t tid = 0;     // most probable timestamp token at this step (id itself for timestamps)
  float p = 0, plog = 0;  // probability / log-probability of id after all filters
  float pt = 0, ptsum = 0;
};

struct WhisperSegment {
  int64_t t0 = 0, t1 = 0;  // centiseconds
  std::string text;
  std::vector<WhisperTokenData> tokens;
  float no_speech_prob = 0;
};

struct Transcript {
  std::string text;  // all segment texts concatenated
  std::vector<WhisperSegment> segments;
};

// Index of a language code in Whisper's language list (its token is sot + 1 + index), or -1.
int whisper_language_index(const std::string& code);

class Transcriber {
 public:
  // threads <= 0: the global pool. Throws omni::FormatError / omni::Error on a bad model file.
  explicit Transcriber(const std::string& model_path, int threads = 0);
  explicit Transcriber(std::shared_ptr<const WhisperModel> model, int threads = 0);
  ~Transcriber();

  const WhisperModel& model() const { return *model_; }
  // Any rate / channel count (resampled to 16 kHz mono first).
  Transcript transcribe(const Audio& audio, const TranscribeOptions& options = {});
  // 16 kHz mono samples.
  Transcript transcribe_16k(std::span<const float> samples, const TranscribeOptions& options = {});

 private:
  std::shared_ptr<const WhisperModel> model_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_;
};

}  // namespace omni::asr
