#include "pipeline/vad.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace omni::pipeline {

VadFrame vad_frame_features(std::span<const float> f) {
  double e = 0;
  size_t crossings = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    e += static_cast<double>(f[i]) * f[i];
    if (i > 0 && ((f[i] >= 0) != (f[i - 1] >= 0))) ++crossings;
  }
  VadFrame r;
  const double rms = f.empty() ? 0 : std::sqrt(e / f.size());
  r.energy_db = static_cast<float>(20.0 * std::log10(std::max(rms, 1e-10)));
  r.zcr = f.size() > 1 ? static_cast<float>(crossings) / static_cast<float>(f.size() - 1) : 0.0f;
  return r;
}

Vad::Vad(VadOptions options) : opt_(options) {
  if (opt_.sample_rate <= 0 || opt_.frame_ms <= 0 || opt_.frame_ms > 1000) {
    throw Error("vad: bad sample rate or frame length");
  }
  frame_len_ = static_cast<size_t>(opt_.sample_rate) * opt_.frame_ms / 1000;
  if (frame_len_ < 2) throw Error("vad: frame too short");
}

double Vad::position_s() const {
  return static_cast<double>(frames_ * frame_len_ + pending_.size()) / opt_.sample_rate;
}

void Vad::frame(std::span<const float> f, std::vector<VadEvent>& out) {
  const VadFrame v = vad_frame_features(f);
  const float threshold = std::max(opt_.energy_threshold_db, noise_db_ + opt_.noise_margin_db);
  const bool loud = v.energy_db > threshold;
  const bool speech = loud && (v.zcr <= opt_.zcr_max || v.energy_db > threshold + opt_.loud_db);
  const double frame_s = static_cast<double>(frame_len_) / opt_.sample_rate;
  const size_t idx = frames_++;
  const double now = static_cast<double>(frames_) * frame_s;
  if (!speech && !in_speech_) {
    // The floor follows the background quickly down and slowly up.
    const float rate = v.energy_db < noise_db_ ? 0.3f : 0.05f;
    noise_db_ += rate * (v.energy_db - noise_db_);
  }
  const int min_frames = std::max(1, opt_.min_speech_ms / opt_.frame_ms);
  const int hang_frames = std::max(1, opt_.hangover_ms / opt_.frame_ms);
  const int pause_frames = opt_.pause_ms > 0 ? std::max(1, opt_.pause_ms / opt_.frame_ms) : 0;
  if (speech) {
    ++run_speech_;
    run_silence_ = 0;
    last_speech_frame_ = idx;
    if (paused_) {
      paused_ = false;
      out.push_back({VadEvent::kResume, static_cast<double>(idx) * frame_s, now});
    }
    if (!in_speech_ && run_speech_ >= min_frames) {
      in_speech_ = true;
      out.push_back({VadEvent::kSpeechStart, static_cast<double>(idx + 1 - run_speech_) * frame_s, now});
    }
  } else {
    run_speech_ = 0;
    ++run_silence_;
    if (in_speech_ && pause_frames > 0 && pause_frames < hang_frames && !paused_ &&
        run_silence_ == pause_frames) {
      paused_ = true;
      out.push_back({VadEvent::kPause, static_cast<double>(last_speech_frame_ + 1) * frame_s, now});
    }
    if (in_speech_ && run_silence_ >= hang_frames) {
      in_speech_ = false;
      paused_ = false;
      out.push_back({VadEvent::kSpeechEnd, static_cast<double>(last_speech_frame_ + 1) * frame_s, now});
    }
  }
}

std::vector<VadEvent> Vad::feed(std::span<const float> samples) {
  std::vector<VadEvent> out;
  size_t i = 0;
  if (!pending_.empty()) {
    const size_t take = std::min(frame_len_ - pending_.size(), samples.size());
    pending_.insert(pending_.end(), samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(take));
    i = take;
    if (pending_.size() < frame_len_) return out;
    frame(pending_, out);
    pending_.clear();
  }
  for (; i + frame_len_ <= samples.size(); i += frame_len_) frame(samples.subspan(i, frame_len_), out);
  pending_.assign(samples.begin() + static_cast<std::ptrdiff_t>(i), samples.end());
  return out;
}

std::vector<VadEvent> Vad::finish() {
  std::vector<VadEvent> out;
  if (in_speech_) {
    in_speech_ = false;
    paused_ = false;
    const double frame_s = static_cast<double>(frame_len_) / opt_.sample_rate;
    out.push_back({VadEvent::kSpeechEnd, static_cast<double>(last_speech_frame_ + 1) * frame_s,
                   position_s()});
  }
  return out;
}

}  // namespace omni::pipeline
