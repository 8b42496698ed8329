#include "asr/audio.h"

#include "core/error.h"

namespace omni::asr {

Audio downmix_to_mono(const Audio& in) {
  if (in.channels <= 0) throw Error("downmix_to_mono: audio has no channels");
  if (in.channels == 1) return in;
  Audio out;
  out.sample_rate = in.sample_rate;
  out.channels = 1;
  const size_t n = in.frames();
  const size_t ch = static_cast<size_t>(in.channels);
  out.samples.assign(n, 0.0f);
  const float scale = 1.0f / static_cast<float>(ch);
  for (size_t i = 0; i < n; ++i) {
    const float* f = &in.samples[i * ch];
    float sum = 0.0f;
    for (size_t c = 0; c < ch; ++c) sum += f[c];
    // Stereo stays exact ((l + r) * 0.5); wider layouts accept one extra rounding.
    out.samples[i] = sum * scale;
  }
  return out;
}

}  // namespace omni::asr
