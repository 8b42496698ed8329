#include "pipeline/local_pocketsphinx.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace omni::pipeline {

namespace {

std::vector<std::string> words_of(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

std::string join_words(const std::vector<std::string>& w, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to; ++i) s += (s.empty() ? "" : " ") + w[i];
  return s;
}

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
    if (hyp == last_) return;
    last_ = hyp;
    // Pocketsphinx's running best path can change anywhere, so stability is decided as in
    // LocalAgreement-2: words that two consecutive hypotheses agree on (and that are not the
    // last, possibly unfinished word of either) are committed and reported as stable from then
    // on. It is a guess, not a guarantee: the final result may still differ, which costs only
    // the prefill (the LLM keeps just the prefix that matches the real prompt).
    const std::vector<std::string> w = words_of(hyp);
    size_t agree = 0;
    const size_t limit = std::min(prev_.size(), w.size());
    while (agree < limit && prev_[agree] == w[agree]) ++agree;
    agree = std::min(agree, limit == 0 ? 0 : limit - 1);
    if (agree > committed_.size() &&
        std::equal(committed_.begin(), committed_.end(), w.begin())) {
      committed_.assign(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(agree));
    }
    prev_ = w;
    if (!on_partial_) return;
    const std::string stable = join_words(committed_, 0, committed_.size());
    const std::string tail = join_words(w, std::min(committed_.size(), w.size()), w.size());
    const std::string text = stable + (stable.empty() || tail.empty() ? "" : " ") + tail;
    on_partial_({text, stable.size(), double(fed_) / 16000.0});
  }

  // The running best path over all audio fed (pocketsphinx decodes as audio arrives, so this
  // costs nothing); finish() may still revise it.
  std::optional<SttResult> peek() override {
    if (finished_) throw Error("pocketsphinx stream: peek() after finish()");
    SttResult r;
    r.language = "en";
    r.audio_seconds = double(fed_) / 16000.0;
    r.cancelled = cancel_.cancelled();
    if (!r.cancelled) r.text = join_words(words_of(last_), 0, words_of(last_).size());
    return r;
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
  std::vector<std::string> prev_, committed_;
  size_t fed_ = 0;
  bool finished_ = false;
};

}  // namespace

PocketsphinxStt::PocketsphinxStt(const asr::PocketsphinxOptions& options)
    : engine_(std::make_shared<asr::Pocketsphinx>(options)), grammar_(!options.jsgf_path.empty()) {}

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
