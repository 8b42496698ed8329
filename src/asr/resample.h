// Sample-rate conversion and the 16 kHz mono form Whisper consumes.
#pragma once

#include "asr/audio.h"

namespace omni::asr {

inline constexpr int kWhisperSampleRate = 16000;

// kSinc is our polyphase windowed-sinc filter (asr/sinc_resampler.h, 100 dB stopband, flat to
// 90% of the lower Nyquist); the others are libsamplerate's converters. Measured 48 kHz -> 16 kHz
// (sweep 50 Hz..7 kHz SNR; CPU for 30 s of audio, 1 core): kSinc 114 dB, 19 ms; kSrcBest 137 dB,
// 650 ms; kSrcMedium 81 dB, 205 ms; kSrcFastest 18 dB (rolls off early; 106 dB up to 4 kHz),
// 90 ms. kSinc falls back to kSrcMedium for rate pairs with too many phases (44100 -> 16001).
enum class ResampleMethod { kSinc, kSrcBest, kSrcMedium, kSrcFastest };

// Converts every channel to `target_rate`. Same rate: returned unchanged. Throws omni::Error for
// ratios beyond 1:256 either way.
Audio resample(const Audio& in, int target_rate, ResampleMethod method = ResampleMethod::kSinc);

// Downmix (average of channels) then resample to 16 kHz: the ASR engine's input.
Audio to_whisper_input(const Audio& in, ResampleMethod method = ResampleMethod::kSinc);

}  // namespace omni::asr
