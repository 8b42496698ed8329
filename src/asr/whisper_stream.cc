#include "asr/whisper_stream.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace omni::asr {
namespace {

constexpr int kRate = 16000;
constexpr int kSamplesPerCs = kRate / 100;
constexpr int kSamplesPerEncoderFrame = 2 * 160;  // conv2 has stride 2 over 10 ms mel frames

// Splits at spaces, each word keeping its leading space, so joining the words gives the text back.
void split_words(const std::string& text, std::vector<std::string>& out) {
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i + 1;
    while (j < text.size() && text[j] != ' ') ++j;
    // A run of spaces stays attached to the following word.
    if (text[i] == ' ') {
      size_t k = i;
      while (k < text.size() && text[k] == ' ') ++k;
      j = k;
      while (j < text.size() && text[j] != ' ') ++j;
    }
    out.push_back(text.substr(i, j - i));
    i = j;
  }
}

std::string join(const std::vector<std::string>& words, size_t from = 0) {
  std::string s;
  for (size_t i = from; i < words.size(); ++i) s += words[i];
  return s;
}

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

int fitted_audio_ctx(size_t samples, int n_audio_ctx, double margin_s, double round_s) {
  const double margin = std::max(0.0, margin_s) * kRate;
  const double frames = (static_cast<double>(samples) + margin) / kSamplesPerEncoderFrame;
  const double step = std::max(1.0, std::round(std::max(0.0, round_s) * kRate / kSamplesPerEncoderFrame));
  const double fitted = std::ceil(std::ceil(frames) / step) * step;
  return static_cast<int>(std::clamp(fitted, 1.0, static_cast<double>(std::max(1, n_audio_ctx))));
}

StreamingTranscriber::StreamingTranscriber(Transcriber& transcriber, StreamingOptions options,
                                           OnPartial on_partial)
    : tr_(transcriber),
      opt_(std::move(options)),
      on_partial_(std::move(on_partial)),
      mel_(transcriber.model().mel_filters()) {
  if (!(opt_.step_s > 0.0) || !(opt_.max_buffer_s >= opt_.step_s) || opt_.max_buffer_s > 3600.0) {
    throw Error("streaming: step_s must be > 0 and <= max_buffer_s (<= 3600 s)");
  }
  thread_ = std::thread([this] { worker(); });
}

StreamingTranscriber::~StreamingTranscriber() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

void StreamingTranscriber::feed(std::span<const float> samples_16k) {
  Chunk c{std::vector<float>(samples_16k.begin(), samples_16k.end()),
          std::chrono::steady_clock::now()};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) throw Error("streaming: feed() after finish()");
    queue_.push_back(std::move(c));
  }
  cv_.notify_one();
}

void StreamingTranscriber::cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_one();
}

std::string StreamingTranscriber::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_) throw Error("streaming: finish() called twice");
    finishing_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
  return final_text_;
}

std::string StreamingTranscriber::peek() {
  std::unique_lock<std::mutex> lock(mu_);
  if (finishing_) throw Error("streaming: peek() after finish()");
  peek_requested_ = true;
  peek_ready_ = false;
  cv_.notify_one();
  peek_cv_.wait(lock, [&] { return peek_ready_ || worker_done_; });
  if (!peek_ready_) {
    // error_ is written before worker_done_ (under mu_), so it is safe to read here.
    if (error_) std::rethrow_exception(error_);
    return "";
  }
  peek_ready_ = false;
  return std::move(peek_text_);
}

void StreamingTranscriber::serve_peek() {
  const Hypothesis h = decode(opt_.final_full_context ? Pass::kFinalFull : Pass::kFinalFitted);
  std::string text = committed_text();
  for (size_t i = committed_.size(); i < h.words.size(); ++i) text += h.words[i];
  {
    std::lock_guard<std::mutex> lock(mu_);
    peek_requested_ = false;
    peek_text_ = std::move(text);
    peek_ready_ = true;
  }
  peek_cv_.notify_all();
}

void StreamingTranscriber::worker() {
  const auto step_samples = static_cast<int64_t>(std::llround(opt_.step_s * kRate));
  try {
    auto newest = std::chrono::steady_clock::now();
    for (;;) {
      // Everything queued is taken at once: after a slow step the audio that arrived meanwhile
      // goes into one step rather than one step per missed interval.
      std::deque<Chunk> got;
      bool last = false, peek = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return !queue_.empty() || finishing_ || cancelled_ || peek_requested_;
        });
        if (cancelled_) break;
        if (opt_.skip_when_behind) {
          got.swap(queue_);
        } else if (!queue_.empty()) {
          got.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        last = finishing_ && queue_.empty();
        peek = peek_requested_ && queue_.empty() && !last;
      }
      for (Chunk& c : got) {
        if (c.samples.empty()) continue;
        // Non-finite samples count as silence (the mel does the same).
        for (float& s : c.samples) {
          if (!std::isfinite(s)) s = 0.0f;
        }
        buffer_.insert(buffer_.end(), c.samples.begin(), c.samples.end());
        mel_.append(c.samples);
        since_step_ += static_cast<int64_t>(c.samples.size());
        newest = c.arrival;
      }
      if (last) {
        step(newest, true, 0);
        break;
      }
      if (peek) {
        // The peek covers everything fed: a step that is due waits for the next audio.
        serve_peek();
        continue;
      }
      if (since_step_ >= step_samples) {
        const auto skipped = static_cast<int>(since_step_ / step_samples - 1);
        since_step_ = 0;
        step(newest, false, skipped);
        trim();
      }
    }
  } catch (...) {
    error_ = std::current_exception();
  }
  if (cancelled_ || error_) final_text_ = committed_text();
  {
    std::lock_guard<std::mutex> lock(mu_);
    worker_done_ = true;
  }
  peek_cv_.notify_all();
}

StreamingTranscriber::Hypothesis StreamingTranscriber::decode(Pass pass) {
  TranscribeOptions o = opt_.transcribe;
  const int n_audio_ctx = tr_.model().hparams().n_audio_ctx;
  const auto frames = static_cast<int64_t>(
      (buffer_.size() + kSamplesPerEncoderFrame - 1) / kSamplesPerEncoderFrame);
  if (pass == Pass::kFinalFull) {
    o.audio_ctx = 0;
  } else if (pass == Pass::kFinalFitted) {
    o.audio_ctx = fitted_audio_ctx(buffer_.size(), n_audio_ctx, opt_.final_margin_s, opt_.final_round_s);
  } else {
    o.audio_ctx = static_cast<int>(std::clamp<int64_t>(frames, 1, n_audio_ctx));
  }
  if (pass == Pass::kStep && opt_.tokens_per_s > 0.0) {
    const double seconds = static_cast<double>(buffer_.size()) / kRate;
    o.max_tokens = static_cast<int>(std::ceil(opt_.tokens_per_s * seconds)) + opt_.token_margin;
  }
  const Transcript t = tr_.transcribe_mel(mel_.mel(), o);
  Hypothesis h;
  const auto buffer_cs = static_cast<int64_t>(buffer_.size()) / kSamplesPerCs;
  for (const auto& s : t.segments) {
    split_words(s.text, h.words);
    h.segment_end_word.push_back(h.words.size());
    h.segment_end_cs.push_back(std::clamp<int64_t>(s.t1, 0, buffer_cs));
  }
  return h;
}

std::string StreamingTranscriber::committed_text() const {
  return stable_before_ + join(committed_);
}

void StreamingTranscriber::step(std::chrono::steady_clock::time_point newest_arrival,
                                bool final, int skipped) {
  const auto t0 = std::chrono::steady_clock::now();
  Hypothesis h = decode(!final                    ? Pass::kStep
                        : opt_.final_full_context ? Pass::kFinalFull
                                                  : Pass::kFinalFitted);
  const size_t n_c = committed_.size();
  if (final) {
    for (size_t i = n_c; i < h.words.size(); ++i) committed_.push_back(h.words[i]);
  } else {
    // LocalAgreement-2 on the uncommitted tails of this and the previous hypothesis.
    size_t i = n_c;
    while (i < h.words.size() && i < previous_.size() && h.words[i] == previous_[i]) {
      committed_.push_back(h.words[i]);
      ++i;
    }
  }
  previous_ = h.words;
  last_ = std::move(h);

  Partial p;
  p.stable = committed_text();
  if (!final && committed_.size() < previous_.size()) p.tentative = join(previous_, committed_.size());
  p.final = final;
  p.steps_skipped = skipped;
  p.audio_s = static_cast<double>(buffer_offset_ + static_cast<int64_t>(buffer_.size())) / kRate;
  const auto t1 = std::chrono::steady_clock::now();
  p.compute_ms = ms_between(t0, t1);
  p.latency_ms = ms_between(newest_arrival, t1);
  if (final) final_text_ = p.stable;
  if (on_partial_) on_partial_(p);
}

void StreamingTranscriber::trim() {
  const auto limit = static_cast<size_t>(opt_.max_buffer_s * kRate);
  if (buffer_.size() <= limit) return;
  // The last segment whose words are all stable: its end is a safe cut.
  size_t words = 0;
  int64_t cut_cs = 0;
  for (size_t s = 0; s < last_.segment_end_word.size(); ++s) {
    if (last_.segment_end_word[s] <= committed_.size() && last_.segment_end_cs[s] > cut_cs) {
      words = last_.segment_end_word[s];
      cut_cs = last_.segment_end_cs[s];
    }
  }
  if (cut_cs == 0 && buffer_.size() > 2 * limit) {
    // Nothing stable for far too long (e.g. a hypothesis that keeps changing): commit the
    // latest hypothesis up to its last segment end, or everything, rather than grow without bound.
    const size_t n = last_.segment_end_word.size();
    if (n >= 2) {
      words = last_.segment_end_word[n - 2];
      cut_cs = last_.segment_end_cs[n - 2];
    }
    if (cut_cs == 0) {
      words = last_.words.size();
      cut_cs = static_cast<int64_t>(buffer_.size()) / kSamplesPerCs;
    }
    for (size_t i = committed_.size(); i < words; ++i) committed_.push_back(last_.words[i]);
  }
  if (cut_cs == 0) return;
  const size_t cut = std::min(buffer_.size(), static_cast<size_t>(cut_cs) * kSamplesPerCs);
  words = std::min(words, committed_.size());
  stable_before_ += join(std::vector<std::string>(committed_.begin(),
                                                  committed_.begin() + static_cast<std::ptrdiff_t>(words)));
  committed_.erase(committed_.begin(), committed_.begin() + static_cast<std::ptrdiff_t>(words));
  previous_.erase(previous_.begin(),
                  previous_.begin() + static_cast<std::ptrdiff_t>(std::min(words, previous_.size())));
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(cut));
  mel_.drop_front(static_cast<int64_t>(cut));
  buffer_offset_ += static_cast<int64_t>(cut);
  last_ = Hypothesis{};
}

}  // namespace omni::asr
