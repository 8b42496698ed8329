// Speech to text with our Whisper engine (whisper.cpp ggml model files). Whole-utterance only:
// the turn buffers audio and transcribes at end of speech (a streaming transcriber plugs in
// through SpeechToText::start_stream when it exists).
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

 private:
  std::string name_;
  asr::Transcriber transcriber_;
};

}  // namespace omni::pipeline
