#include "pipeline/local_pocketsphinx.h"

#include "core/error.h"

namespace omni::pipeline {

namespace {

void check_language(const SttOptions& o) {
  if (!o.language.empty() && o.language != "en") {
    throw Error("pocketsphinx recognises English only (asked for language '" + o.language +
                "'); configure a multilingual Whisper model for other languages");
  }
  if (o.translate) throw Error("pocketsphinx cannot translate; configure a Whisper model");
}

class PocketsphinxStream : public SttStream {
 public:
  PocketsphinxStream(std::shared_ptr<asr::Pocketsphinx> engine, CancelToken cancel,
                     OnPartial on_partial)
      : engine_(std::move(engine)), cancel_(std::move(cancel)), on_partial_(std::move(on_partial)) {
    engine_->begin();
  }

  void feed(std::span<const float> samples_16k) override {
    if (cancel_.cancelled() || finished_) return;
    fed_ += samples_16k.size();
    const std::string hyp = engine_->feed(samples_16k);
    // Pocketsphinx's running best path can still change anywhere, so nothing is marked stable
    // before the end of the utterance.
    if (on_partial_ && hyp != last_) on_partial_({hyp, 0, double(fed_) / 16000.0});
    last_ = hyp;
  }

  SttResult finish() override {
    SttResult r;
    r.language = "en";
    r.audio_seconds = double(fed_) / 16000.0;
    if (finished_) throw Error("pocketsphinx stream: finish() called twice");
    finished_ = true;
    const auto res = engine_->end();
    r.cancelled = cancel_.cancelled();
    if (!r.cancelled) {
      r.text = res.text;
      if (on_partial_) on_partial_({r.text, r.text.size(), r.audio_seconds});
    }
    return r;
  }

 private:
  std::shared_ptr<asr::Pocketsphinx> engine_;
  CancelToken cancel_;
  OnPartial on_partial_;
  std::string last_;
  size_t fed_ = 0;
  bool finished_ = false;
};

}  // namespace

PocketsphinxStt::PocketsphinxStt(const asr::PocketsphinxOptions& options)
    : engine_(std::make_shared<asr::Pocketsphinx>(options)) {}

SttResult PocketsphinxStt::transcribe(const asr::Audio& audio, const SttOptions& options,
                                      const CancelToken& cancel, const OnPartial& on_partial) {
  check_language(options);
  SttResult r;
  r.language = "en";
  r.audio_seconds = audio.seconds();
  if (cancel.cancelled()) {
    r.cancelled = true;
    return r;
  }
  r.text = engine_->recognize(audio).text;
  r.cancelled = cancel.cancelled();
  if (on_partial && !r.cancelled) on_partial({r.text, r.text.size(), r.audio_seconds});
  return r;
}

std::unique_ptr<SttStream> PocketsphinxStt::start_stream(const SttOptions& options,
                                                         const CancelToken& cancel,
                                                         const OnPartial& on_partial) {
  check_language(options);
  return std::make_unique<PocketsphinxStream>(engine_, cancel, on_partial);
}

}  // namespace omni::pipeline
