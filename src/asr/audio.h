// Decoded audio as the engines consume it: float samples in [-1, 1], interleaved by channel.
#pragma once

#include <cstddef>
#include <vector>

namespace omni::asr {

struct Audio {
  std::vector<float> samples;  // frame-major: samples[frame * channels + channel]
  int sample_rate = 0;         // frames per second
  int channels = 1;

  size_t frames() const {
    return channels > 0 ? samples.size() / static_cast<size_t>(channels) : 0;
  }
  double seconds() const {
    return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0;
  }
};

// Averages the channels of every frame (sum / channels, in float). Mono input is returned as is.
Audio downmix_to_mono(const Audio& in);

}  // namespace omni::asr
