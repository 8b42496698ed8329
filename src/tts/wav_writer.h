// Piper's output files: 16-bit PCM mono WAV from Piper's own int16 conversion (truncation after
// peak normalisation, unlike asr::encode_wav's rounding), and raw float32 for tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace omni::tts {

// The complete file: 44-byte canonical header + little-endian samples.
std::vector<uint8_t> wav_s16_bytes(std::span<const int16_t> samples, int sample_rate);
// Writes the file; throws omni::Error naming the path on failure.
void write_wav_s16(const std::string& path, std::span<const int16_t> samples, int sample_rate);
// Raw little-endian float32 samples, no header.
void write_raw_f32(const std::string& path, std::span<const float> samples);

// Piper's int16 conversion: peak normalisation to 32767 / max(0.01, max|x|), clamped, truncated
// toward zero.
std::vector<int16_t> piper_to_int16(std::span<const float> audio);

}  // namespace omni::tts
