// Speech to text with our Whisper engine (whisper.cpp ggml model files): whole utterances, and
// streaming sessions on asr::StreamingTranscriber (LocalAgreement-2 stable prefixes) so a turn
// can prefill the stable words into the LLM while the user is still speaking.
#pragma once

#include <memory>
#include <string>

#include "asr/whisper.h"
#include "pipeline/stages.h"

namespace omni::pipeline {

class WhisperStt : public SpeechToText {
 public:
  // threads <= 0: the process-wide pool. Throws omni::Error / FormatError for a bad model.
  explicit WhisperStt(const std::string& model_path, int threads = 0);

  std::string name() const override { return name_; }
  SttResult transcribe(const asr::Audio& audio, const SttOptions& options,
                       const CancelToken& cancel, const OnPartial& on_partial = {}) override;
  // One session at a time (it decodes on its own worker thread with this object's model);
  // partials are handed to on_partial from feed()/finish() on the caller's thread.
  std::unique_ptr<SttStream> start_stream(const SttOptions& options, const CancelToken& cancel,
                                          const OnPartial& on_partial) override;

  const asr::WhisperModel& model() const { return transcriber_.model(); }
  // false: start_stream() returns nullptr, so a turn transcribes the whole utterance at its end.
  void set_streaming(bool on) { streaming_ = on; }
  // Seconds of new audio between streaming decodes (default 0.5).
  void set_stream_step(double seconds) { step_s_ = seconds; }
  // End-of-turn passes (transcribe() of audio up to one window, a stream's finish() and peek())
  // encode only the audio present plus margin_s, rounded up to round_s
  // (asr::fitted_audio_ctx), instead of the full 30 s window. Default on: a voice turn's final
  // pass is on the critical path. Off: the offline result exactly.
  void set_fitted_context(bool on, double margin_s = 0.5, double round_s = 1.0) {
    fitted_ = on;
    margin_s_ = margin_s;
    round_s_ = round_s;
  }
  bool fitted_context() const { return fitted_; }

 private:
  std::string name_;
  asr::Transcriber transcriber_;
  double step_s_ = 0.5;
  bool streaming_ = true;
  bool fitted_ = true;
  double margin_s_ = 0.5, round_s_ = 1.0;
};

// The Whisper decoding options an SttOptions asks for.
asr::TranscribeOptions whisper_options(const SttOptions& options);

}  // namespace omni::pipeline
