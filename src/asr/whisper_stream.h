// Streaming speech recognition on top of Transcriber: audio arrives in chunks, a worker thread
// re-decodes the growing buffer every `step` of new audio and reports partial results.
//
// Stability follows LocalAgreement-2 (as in whisper_streaming): a word becomes stable once two
// consecutive hypotheses agree on it and on everything before it; stable text never changes
// afterwards. The rest of the latest hypothesis is the tentative tail.
//
// Work per step is bounded so partials keep up with the audio:
// - the log-mel is kept incrementally (StreamingLogMel: only frames near the new audio are
//   computed);
// - each step encodes only the frames the buffer covers (reduced audio_ctx, so a 3 s buffer costs
//   a tenth of a 30 s window);
// - a step samples at most tokens_per_s * buffer seconds + token_margin tokens. Speech runs at
//   about 2-3 words, 3-4 tokens, per second, so the default (4/s + 8) does not cut a real
//   transcript short, while a model that never emits EOT (random weights, noise) cannot spend
//   220 sequential decoder steps on every update;
// - when a step takes longer than the audio it covers, the audio that arrived meanwhile is
//   taken in one step (the skipped steps are counted in Partial::steps_skipped) instead of
//   queueing steps that would fall further behind;
// - when the buffer grows past `max_buffer_s`, it is trimmed at the end of the last fully stable
//   segment, so committed audio is never decoded again.
//
// Threading contract:
// - feed() may be called from a real-time audio thread: it copies the samples into a queue under
//   a mutex held only for the copy, never blocks on decoding and never calls the callback.
// - Decoding and every on_partial call happen on the transcriber's own worker thread, one call
//   at a time, in order. The callback must not call feed()/finish() on the same object.
// - finish() (any thread, once) decodes what is left and returns the final transcript; after it,
//   feed() is an error. cancel() (any thread) stops the worker as soon as the current step ends;
//   finish() then returns the text stable so far. The destructor cancels.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "asr/mel.h"
#include "asr/whisper.h"

namespace omni::asr {

struct StreamingOptions {
  TranscribeOptions transcribe;  // audio_ctx is set per step from the buffer length
  double step_s = 0.5;           // decode after this much new audio
  double max_buffer_s = 20.0;    // trim the buffer (at a stable segment end) beyond this
  // Token budget of one partial step: ceil(tokens_per_s * buffer seconds) + token_margin
  // (tokens_per_s <= 0: no cap beyond whisper's 220). The final pass is not capped.
  double tokens_per_s = 4.0;
  int token_margin = 8;
  // Take all audio queued while a step ran into the next step (false: one step per step_s of
  // audio, however late; deterministic step boundaries, for tests).
  bool skip_when_behind = true;
  // Final pass over the remaining buffer with the full 30 s context (exactly the offline result
  // for clips that were never trimmed) instead of a fitted one. false: the final pass (and
  // peek()) encodes only fitted_audio_ctx(buffer, final_margin_s, final_round_s) frames, which
  // for a 2 s utterance is a tenth of the work of a 30 s window (voice turns use this).
  bool final_full_context = true;
  double final_margin_s = 0.5;  // silence frames kept after the buffer's end
  double final_round_s = 1.0;   // the context is rounded up to a multiple of this
};

// Encoder frames (20 ms each) a pass over `samples` 16 kHz samples needs: the audio plus
// `margin_s`, rounded up to a multiple of `round_s`, clamped to [1, n_audio_ctx]. The margin
// keeps some of the padding Whisper was trained with after the last word; rounding makes the
// context (and so the decode) the same for buffers that differ by a few blocks.
int fitted_audio_ctx(size_t samples, int n_audio_ctx, double margin_s, double round_s);

struct Partial {
  std::string stable;     // all stable text since the start of the stream (only grows)
  std::string tentative;  // the rest of the latest hypothesis (may change)
  bool final = false;     // the last update, from finish()
  double audio_s = 0;     // seconds of audio covered by this hypothesis (since stream start)
  double compute_ms = 0;  // time spent decoding this step
  int steps_skipped = 0;  // steps merged into this one because the previous one ran late
  // Wall time from the arrival (feed call) of the newest sample this step covers to the
  // emission of this partial: the delay a user sees behind the audio.
  double latency_ms = 0;
};

class StreamingTranscriber {
 public:
  using OnPartial = std::function<void(const Partial&)>;

  // `transcriber` must outlive this object and is used by the worker thread only.
  StreamingTranscriber(Transcriber& transcriber, StreamingOptions options, OnPartial on_partial);
  ~StreamingTranscriber();
  StreamingTranscriber(const StreamingTranscriber&) = delete;
  StreamingTranscriber& operator=(const StreamingTranscriber&) = delete;

  // 16 kHz mono samples. Throws omni::Error after finish().
  void feed(std::span<const float> samples_16k);
  // Flushes, waits for the worker, emits a final Partial and returns the whole text. Rethrows an
  // error the worker hit.
  std::string finish();
  void cancel();
  // The transcript a finish() now would give (whole text so far, final-pass options) without
  // ending the stream: a speculative end of turn. Blocks until the worker has decoded every
  // sample fed so far (after the step it may be running); the stream's state (stable words,
  // agreement) is unchanged, so feeding may go on. Empty after cancel(); rethrows a worker error.
  std::string peek();

 private:
  struct Chunk {
    std::vector<float> samples;
    std::chrono::steady_clock::time_point arrival;
  };
  struct Hypothesis {
    std::vector<std::string> words;        // whitespace-separated words, leading space kept
    std::vector<size_t> segment_end_word;  // words[0, e) are complete at each segment end
    std::vector<int64_t> segment_end_cs;   // that segment's end, centiseconds into the buffer
  };

  void worker();
  void step(std::chrono::steady_clock::time_point newest_arrival, bool final, int skipped);
  enum class Pass { kStep, kFinalFull, kFinalFitted };
  Hypothesis decode(Pass pass);
  void serve_peek();
  void trim();
  std::string committed_text() const;

  Transcriber& tr_;
  const StreamingOptions opt_;
  const OnPartial on_partial_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> queue_;
  bool finishing_ = false;
  // peek(): a request and its answer, under mu_.
  bool peek_requested_ = false;
  bool peek_ready_ = false;
  bool worker_done_ = false;
  std::string peek_text_;
  std::condition_variable peek_cv_;
  std::atomic<bool> cancelled_{false};
  std::exception_ptr error_;

  // Worker-only state.
  std::vector<float> buffer_;     // audio not yet trimmed away
  StreamingLogMel mel_;           // its log-mel
  int64_t buffer_offset_ = 0;     // samples trimmed so far
  int64_t since_step_ = 0;        // samples fed since the last step
  std::string stable_before_;     // text of trimmed audio
  std::vector<std::string> committed_;  // stable words inside the buffer
  std::vector<std::string> previous_;   // previous hypothesis (for agreement)
  Hypothesis last_;
  std::string final_text_;

  std::thread thread_;
};

}  // namespace omni::asr
