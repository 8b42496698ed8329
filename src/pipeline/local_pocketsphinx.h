// Speech to text with CMU PocketSphinx: the default when no Whisper model is configured (it needs
// no download). English only; streams natively (audio is decoded as it is fed, so partials are
// free), but far less accurate than Whisper.
#pragma once

#include <memory>
#include <string>

#include "asr/pocketsphinx.h"
#include "pipeline/stages.h"

namespace omni::pipeline {

class PocketsphinxStt : public SpeechToText {
 public:
  // Throws omni::Error when the model files are missing.
  explicit PocketsphinxStt(const asr::PocketsphinxOptions& options = {});

  std::string name() const override {
    return grammar_ ? "pocketsphinx:en-us+grammar" : "pocketsphinx:en-us";
  }
  SttResult transcribe(const asr::Audio& audio, const SttOptions& options,
                       const CancelToken& cancel, const OnPartial& on_partial = {}) override;
  std::unique_ptr<SttStream> start_stream(const SttOptions& options, const CancelToken& cancel,
                                          const OnPartial& on_partial) override;

 private:
  std::shared_ptr<asr::Pocketsphinx> engine_;
  bool grammar_ = false;
};

}  // namespace omni::pipeline
