#include "pipeline/local_whisper.h"

#include <filesystem>
#include <mutex>
#include <vector>

#include "asr/resample.h"
#include "asr/whisper_stream.h"
#include "core/error.h"
#include "pipeline/text_util.h"

namespace omni::pipeline {
namespace {

// Adapts StreamingTranscriber (which reports on its worker thread) to SttStream (which reports
// on the caller's thread): partials wait in a queue until the next feed()/finish().
class WhisperStream : public SttStream {
 public:
  WhisperStream(asr::Transcriber& tr, asr::StreamingOptions o, CancelToken cancel,
                OnPartial on_partial)
      : cancel_(std::move(cancel)), on_partial_(std::move(on_partial)) {
    st_ = std::make_unique<asr::StreamingTranscriber>(tr, o, [this](const asr::Partial& p) {
      std::lock_guard l(mu_);
      PartialTranscript t;
      t.text = p.stable + p.tentative;
      t.stable_bytes = p.stable.size();
      t.audio_seconds = p.audio_s;
      pending_.push_back(std::move(t));
    });
  }

  void feed(std::span<const float> samples_16k) override {
    if (finished_) throw Error("whisper stream: feed() after finish()");
    if (cancel_.cancelled()) {
      st_->cancel();
      return;
    }
    fed_ += samples_16k.size();
    st_->feed(samples_16k);
    deliver();
  }

  std::optional<SttResult> peek() override {
    if (finished_) throw Error("whisper stream: peek() after finish()");
    SttResult r;
    r.audio_seconds = static_cast<double>(fed_) / 16000.0;
    if (cancel_.cancelled()) {
      r.cancelled = true;
      return r;
    }
    r.text = trim(st_->peek());
    r.cancelled = cancel_.cancelled();
    return r;
  }

  SttResult finish() override {
    if (finished_) throw Error("whisper stream: finish() called twice");
    finished_ = true;
    if (cancel_.cancelled()) st_->cancel();
    SttResult r;
    r.audio_seconds = static_cast<double>(fed_) / 16000.0;
    r.text = trim(st_->finish());
    r.cancelled = cancel_.cancelled();
    if (!r.cancelled) deliver();
    return r;
  }

 private:
  void deliver() {
    std::vector<PartialTranscript> ready;
    {
      std::lock_guard l(mu_);
      ready.swap(pending_);
    }
    if (!on_partial_) return;
    for (const auto& p : ready) on_partial_(p);
  }

  CancelToken cancel_;
  OnPartial on_partial_;
  std::mutex mu_;
  std::vector<PartialTranscript> pending_;
  size_t fed_ = 0;
  bool finished_ = false;
  std::unique_ptr<asr::StreamingTranscriber> st_;  // last: its worker stops before the rest goes
};

}  // namespace

asr::TranscribeOptions whisper_options(const SttOptions& options) {
  asr::TranscribeOptions o;
  o.language = options.language.empty() ? "en" : options.language;
  o.translate = options.translate;
  o.max_tokens = options.max_decode_tokens;
  return o;
}

WhisperStt::WhisperStt(const std::string& model_path, int threads)
    : name_("whisper:" + std::filesystem::path(model_path).filename().string()),
      transcriber_(model_path, threads) {}

SttResult WhisperStt::transcribe(const asr::Audio& audio, const SttOptions& options,
                                 const CancelToken& cancel, const OnPartial& on_partial) {
  SttResult r;
  r.audio_seconds = audio.seconds();
  r.language = options.language;
  if (cancel.cancelled()) {
    r.cancelled = true;
    return r;
  }
  asr::TranscribeOptions o = whisper_options(options);
  const asr::Audio in = asr::to_whisper_input(audio);
  const int n_audio_ctx = transcriber_.model().hparams().n_audio_ctx;
  const int fitted = asr::fitted_audio_ctx(in.samples.size(), n_audio_ctx, margin_s_, round_s_);
  // One window only: the reduced context applies to every window of a long input.
  if (fitted_ && fitted < n_audio_ctx) o.audio_ctx = fitted;
  const asr::Transcript t = transcriber_.transcribe_16k(in.samples, o);
  r.text = trim(t.text);
  r.cancelled = cancel.cancelled();
  if (on_partial && !r.cancelled) on_partial({r.text, r.text.size(), r.audio_seconds});
  return r;
}

std::unique_ptr<SttStream> WhisperStt::start_stream(const SttOptions& options,
                                                    const CancelToken& cancel,
                                                    const OnPartial& on_partial) {
  if (!streaming_) return nullptr;
  asr::StreamingOptions o;
  o.transcribe = whisper_options(options);
  o.step_s = step_s_;
  o.final_full_context = !fitted_;
  o.final_margin_s = margin_s_;
  o.final_round_s = round_s_;
  return std::make_unique<WhisperStream>(transcriber_, o, cancel, on_partial);
}

}  // namespace omni::pipeline
