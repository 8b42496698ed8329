// libFuzzer target for the WAV parser: any bytes either decode to finite samples whose count is
// bounded by the input size, or raise omni::FormatError. Anything else (crash, other exception,
// sanitizer report) is a bug.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "asr/audio.h"
#include "asr/wav.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  try {
    omni::asr::WavInfo info;
    const omni::asr::Audio a = omni::asr::read_wav(bytes, "fuzz.wav", &info);
    if (a.samples.size() > 4 * size) std::abort();
    if (a.channels <= 0 || a.sample_rate <= 0) std::abort();
    if (a.samples.size() % static_cast<size_t>(a.channels) != 0) std::abort();
    for (const float v : a.samples) {
      if (!std::isfinite(v)) std::abort();
    }
    if (info.data_offset + info.data_used > size) std::abort();
    // The downmix and the writer accept whatever the reader produced.
    const omni::asr::Audio mono = omni::asr::downmix_to_mono(a);
    if (mono.frames() != a.frames()) std::abort();
    if (a.samples.size() < 4096) {
      const auto out = omni::asr::encode_wav(a, omni::asr::WavEncoding::kFloat32);
      const omni::asr::Audio back = omni::asr::read_wav(out, "roundtrip.wav");
      if (back.samples != a.samples) std::abort();
    }
  } catch (const omni::FormatError&) {
  }
  return 0;
}
