#include "tts/wav_writer.h"

#include <algorithm>
#include <cmath>

#include "core/byte_io.h"
#include "core/wav_header.h"

namespace omni::tts {

std::vector<uint8_t> wav_s16_bytes(std::span<const int16_t> samples, int sample_rate) {
  ByteWriter b;
  put_wav_header(b, kWavFormatPcm, 1, sample_rate, 16, uint64_t(samples.size()) * 2);
  b.bytes().reserve(b.size() + samples.size() * 2);
  for (int16_t s : samples) b.put<int16_t>(s);
  return std::move(b.bytes());
}

void write_wav_s16(const std::string& path, std::span<const int16_t> samples, int sample_rate) {
  write_file_bytes(path, wav_s16_bytes(samples, sample_rate));
}

void write_raw_f32(const std::string& path, std::span<const float> samples) {
  ByteWriter b;
  b.bytes().reserve(samples.size() * 4);
  for (float v : samples) b.put<float>(v);
  write_file_bytes(path, b.bytes());
}

std::vector<int16_t> piper_to_int16(std::span<const float> audio) {
  float peak = 0.01f;
  for (float v : audio) peak = std::max(peak, std::fabs(v));
  const float scale = 32767.0f / std::max(0.01f, peak);
  std::vector<int16_t> out(audio.size());
  for (size_t i = 0; i < audio.size(); ++i) {
    out[i] = static_cast<int16_t>(std::clamp(audio[i] * scale, -32768.0f, 32767.0f));
  }
  return out;
}

}  // namespace omni::tts
