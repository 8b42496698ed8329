// Sample-rate conversion (libsamplerate's band-limited sinc converters) and the 16 kHz mono
// form Whisper consumes.
#pragma once

#include "asr/audio.h"

namespace omni::asr {

inline constexpr int kWhisperSampleRate = 16000;

// libsamplerate converters. Measured on a 20 Hz..7.9 kHz sweep 48 kHz -> 16 kHz (see
// resample_test.cc and bench/resample_bench.cc for the figures): kMedium is the default.
enum class ResampleQuality { kBest, kMedium, kFastest };

// Converts every channel to `target_rate`. Same rate: returned unchanged. Throws omni::Error for
// ratios libsamplerate cannot do (beyond 1:256 either way).
Audio resample(const Audio& in, int target_rate, ResampleQuality quality = ResampleQuality::kMedium);

// Downmix (average of channels) then resample to 16 kHz: the ASR engine's input.
Audio to_whisper_input(const Audio& in, ResampleQuality quality = ResampleQuality::kMedium);

}  // namespace omni::asr
