// A simple voice activity detector on a stream: per-frame energy (dBFS) and zero-crossing rate,
// an adaptive noise floor, an onset that needs min_speech of consecutive voiced frames and a
// hangover of silence before end of speech. A model VAD (Silero) can replace it behind the same
// events later.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace omni::pipeline {

struct VadOptions {
  int sample_rate = 16000;
  int frame_ms = 20;
  float energy_threshold_db = -45.0f;  // a frame quieter than this is never speech
  float noise_margin_db = 12.0f;       // ... nor one less than this above the noise floor
  // Noise-like frames (white noise, hiss) cross zero often; speech is voiced most of the time.
  // Frames above this rate count only when they are also loud_db above the threshold.
  float zcr_max = 0.30f;
  float loud_db = 20.0f;
  int min_speech_ms = 60;   // consecutive speech frames before speech starts
  int hangover_ms = 400;    // silence after speech before it ends
  // Speculative end of speech: after this much silence inside speech (shorter than the
  // hangover) a kPause event is emitted, and kResume if speech comes back before the hangover
  // ends. 0: no pause events.
  int pause_ms = 0;
};

struct VadEvent {
  // kPause: pause_ms of silence inside speech (speech may still resume); kResume: speech came
  // back after a kPause, before the hangover ended it; kSpeechEnd after a kPause confirms it.
  enum Kind { kSpeechStart, kSpeechEnd, kPause, kResume } kind;
  // start / resume: first speech frame; end / pause: end of the last speech frame
  double t_s;
  double detected_s;    // stream position when the event was decided
};

// Per-frame features, exposed for tests and tuning.
struct VadFrame {
  float energy_db;
  float zcr;  // zero crossings per sample
};
VadFrame vad_frame_features(std::span<const float> frame);

class Vad {
 public:
  explicit Vad(VadOptions options = {});

  // Mono samples at options.sample_rate, any block size; returns the events decided.
  std::vector<VadEvent> feed(std::span<const float> samples);
  // End of stream: ends speech still in progress.
  std::vector<VadEvent> finish();

  bool in_speech() const { return in_speech_; }
  double position_s() const;
  float noise_floor_db() const { return noise_db_; }

 private:
  void frame(std::span<const float> f, std::vector<VadEvent>& out);

  VadOptions opt_;
  size_t frame_len_;
  std::vector<float> pending_;
  size_t frames_ = 0;        // frames processed
  float noise_db_ = -70.0f;
  bool in_speech_ = false;
  int run_speech_ = 0, run_silence_ = 0;
  bool paused_ = false;  // a kPause was emitted and no kResume / kSpeechEnd yet
  size_t last_speech_frame_ = 0;
};

}  // namespace omni::pipeline
