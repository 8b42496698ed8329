// High-level Whisper speech recognition: load a whisper.cpp ggml model, transcribe audio into
// text and timed segments with whisper.cpp's decoding rules (prompt, logit filters, timestamp
// rules, 30 s windows advanced by `seek`, failure marking), greedy or beam search, temperature
// fallback, no-speech skipping, language detection and initial prompts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "asr/audio.h"
#include "asr/mel.h"
#include "asr/whisper_model.h"

namespace omni {
class ThreadPool;
}

namespace omni::asr {

struct WhisperSegment;

struct TranscribeOptions {
  // ISO code ("en", "de", ...) or "auto" (detected from the first window on multilingual models).
  // English-only (.en) models accept only "en" / "auto" (an Error otherwise).
  std::string language = "en";
  bool translate = false;  // task token translate instead of transcribe (ignored by .en models)
  bool no_timestamps = false;   // decode without timestamp tokens (one segment per window)
  // Decoding strategy: 1 = greedy (best_of independent samples at temperature > 0), N > 1 = beam
  // search with N beams (best_of beams at temperature > 0). Candidates are ranked by summed
  // log-probability (ties: lower beam first), a candidate repeating the one before it is skipped,
  // finished beams are scored by average log-probability (length penalty -1).
  int beam_size = 1;
  int best_of = 5;
  // How a beam proposes its beam_size candidates. false (default, whisper.cpp's rule, matched
  // token for token by the tests): it draws them from its filtered distribution (softmax at
  // temperature 1 when the temperature is 0) with its own random generator, duplicates allowed,
  // at every temperature. true (OpenAI's rule): its beam_size most probable tokens at temperature
  // 0, and best_of independent samples at temperature > 0.
  bool beam_topk = false;
  // Temperature fallback: decode at `temperature`, and while the result fails (repetition loop,
  // entropy of the last 32 tokens < entropy_thold, or avg log-prob < logprob_thold, unless the
  // window looks like silence) retry at +temperature_inc up to 1.0. temperature_inc 0 = off.
  float temperature = 0.0f;
  float temperature_inc = 0.0f;
  // Sampling is deterministic for a given seed: hypothesis j draws from std::mt19937(j + seed),
  // one generator per hypothesis for the whole call (windows and temperatures), as whisper.cpp
  // seeds its decoders (seed 0 reproduces whisper-cli's samples on equal probabilities).
  uint32_t seed = 0;
  // Text given to the decoder as previous context (<|startofprev|> prompt), e.g. spellings.
  std::string initial_prompt;
  // Carry each window's text over as the next window's context (whisper.cpp's !no_context).
  bool carry_context = true;
  bool suppress_blank = true;
  bool suppress_non_speech = false;  // mask symbol / music-note tokens (whisper.cpp suppress_nst)
  float max_initial_ts = 1.0f;  // seconds
  float entropy_thold = 2.4f;
  float logprob_thold = -1.0f;
  float no_speech_thold = 0.6f;
  // Encoder frames per window (whisper.cpp's audio_ctx): 0 = the model's n_audio_ctx (1500 =
  // 30 s). Smaller values encode only the first audio_ctx * 20 ms of each window (positional
  // embedding sliced) and the decoder attends to those frames only: much faster for short audio,
  // at some loss of accuracy. Values above n_audio_ctx are clamped.
  int audio_ctx = 0;
  // Cap on sampled tokens per window (0: none beyond whisper's n_text_ctx/2 - 4). When reached,
  // the window ends as if completed: every sampled token is kept (text after the last timestamp
  // becomes a segment ending at the window end) and seek moves past the window. Streaming uses it
  // to bound the work of one step (random or confused models may never emit EOT).
  int max_tokens = 0;
  // Called after each 30 s window with the segments it added (possibly none), on the calling
  // thread: lets a caller stream text window by window. Returning false stops after that
  // window; the transcript then holds what was decoded so far.
  std::function<bool(std::span<const WhisperSegment> added)> on_window;
};

// whisper-cli's decoding defaults (what `omni transcribe` and the server use): beam search with 5
// beams, best-of 5 and temperature fallback in steps of 0.2. The struct's own defaults are plain
// greedy decoding without fallback (the goldens' setting, and the cheapest for streaming).
TranscribeOptions default_decoding_options();

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
  std::string language;  // language code used (detected when options.language was "auto")
  float language_prob = 0;  // probability of the detected language (0 when not detected)
};

// Index of a language code in Whisper's language list (its token is sot + 1 + index), or -1.
int whisper_language_index(const std::string& code);
// Language code of an index (empty when out of range).
std::string whisper_language_code(int index);

// Text to token ids the way whisper.cpp tokenizes prompts: GPT-2 style pre-split into words,
// then greedy longest-prefix matching against the vocabulary (bytes with no token are dropped).
std::vector<int32_t> whisper_tokenize(const WhisperModel& model, const std::string& text);

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
  // A log-mel spectrogram computed by the caller (e.g. incrementally, see StreamingLogMel) with
  // this model's filters and whisper.cpp's 30 s of padding.
  Transcript transcribe_mel(const LogMel& mel, const TranscribeOptions& options = {});
  // Probability of each language (index as whisper_language_index) for the first 30 s window of
  // 16 kHz mono samples: softmax over the language-token logits after <|startoftranscript|>.
  // Throws omni::Error for an English-only model.
  std::vector<float> language_probs_16k(std::span<const float> samples);

 private:
  std::shared_ptr<const WhisperModel> model_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_;
};

}  // namespace omni::asr
