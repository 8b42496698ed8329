#include "asr/resample.h"

#include <samplerate.h>

#include <cmath>

#include "asr/sinc_resampler.h"
#include "core/error.h"

namespace omni::asr {
namespace {

Audio resample_src(const Audio& in, int target_rate, double ratio, ResampleMethod method) {
  Audio out;
  out.sample_rate = target_rate;
  out.channels = in.channels;
  const long frames_in = static_cast<long>(in.frames());
  if (frames_in == 0) return out;
  const long frames_out = static_cast<long>(std::ceil(frames_in * ratio)) + 1;
  out.samples.resize(static_cast<size_t>(frames_out) * in.channels);
  SRC_DATA d{};
  d.data_in = in.samples.data();
  d.input_frames = frames_in;
  d.data_out = out.samples.data();
  d.output_frames = frames_out;
  d.src_ratio = ratio;
  d.end_of_input = 1;
  const int type = method == ResampleMethod::kSrcBest      ? SRC_SINC_BEST_QUALITY
                   : method == ResampleMethod::kSrcFastest ? SRC_SINC_FASTEST
                                                           : SRC_SINC_MEDIUM_QUALITY;
  if (const int err = src_simple(&d, type, in.channels)) {
    throw Error(std::string("resample: libsamplerate: ") + src_strerror(err));
  }
  out.samples.resize(static_cast<size_t>(d.output_frames_gen) * in.channels);
  return out;
}

Audio resample_sinc(const Audio& in, int target_rate) {
  const SincResampler rs(in.sample_rate, target_rate);
  Audio out;
  out.sample_rate = target_rate;
  out.channels = in.channels;
  if (in.channels == 1) {
    out.samples = rs.process(in.samples);
    return out;
  }
  const size_t ch = static_cast<size_t>(in.channels), frames = in.frames();
  std::vector<float> plane(frames);
  for (size_t c = 0; c < ch; ++c) {
    for (size_t i = 0; i < frames; ++i) plane[i] = in.samples[i * ch + c];
    const std::vector<float> y = rs.process(plane);
    if (c == 0) out.samples.resize(y.size() * ch);
    for (size_t i = 0; i < y.size(); ++i) out.samples[i * ch + c] = y[i];
  }
  return out;
}

}  // namespace

Audio resample(const Audio& in, int target_rate, ResampleMethod method) {
  if (in.sample_rate <= 0) throw Error("resample: input sample rate is not set");
  if (target_rate <= 0) throw Error("resample: target rate must be positive");
  if (in.channels <= 0) throw Error("resample: audio has no channels");
  if (in.sample_rate == target_rate) return in;
  const double ratio = static_cast<double>(target_rate) / in.sample_rate;
  if (!src_is_valid_ratio(ratio)) {
    throw Error("resample: " + std::to_string(in.sample_rate) + " Hz -> " +
                std::to_string(target_rate) + " Hz is beyond the 1:256 range");
  }
  if (method == ResampleMethod::kSinc) {
    if (SincResampler::supports(in.sample_rate, target_rate)) return resample_sinc(in, target_rate);
    method = ResampleMethod::kSrcMedium;
  }
  return resample_src(in, target_rate, ratio, method);
}

Audio to_whisper_input(const Audio& in, ResampleMethod method) {
  return resample(downmix_to_mono(in), kWhisperSampleRate, method);
}

}  // namespace omni::asr
