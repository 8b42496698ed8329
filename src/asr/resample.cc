#include "asr/resample.h"

#include <samplerate.h>

#include <cmath>

#include "core/error.h"

namespace omni::asr {

Audio resample(const Audio& in, int target_rate, ResampleQuality quality) {
  if (in.sample_rate <= 0) throw Error("resample: input sample rate is not set");
  if (target_rate <= 0) throw Error("resample: target rate must be positive");
  if (in.channels <= 0) throw Error("resample: audio has no channels");
  if (in.sample_rate == target_rate) return in;
  const double ratio = static_cast<double>(target_rate) / in.sample_rate;
  if (!src_is_valid_ratio(ratio)) {
    throw Error("resample: " + std::to_string(in.sample_rate) + " Hz -> " +
                std::to_string(target_rate) + " Hz is beyond libsamplerate's 1:256 range");
  }
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
  const int type = quality == ResampleQuality::kBest     ? SRC_SINC_BEST_QUALITY
                   : quality == ResampleQuality::kMedium ? SRC_SINC_MEDIUM_QUALITY
                                                         : SRC_SINC_FASTEST;
  if (const int err = src_simple(&d, type, in.channels)) {
    throw Error(std::string("resample: libsamplerate: ") + src_strerror(err));
  }
  out.samples.resize(static_cast<size_t>(d.output_frames_gen) * in.channels);
  return out;
}

Audio to_whisper_input(const Audio& in, ResampleQuality quality) {
  return resample(downmix_to_mono(in), kWhisperSampleRate, quality);
}

}  // namespace omni::asr
