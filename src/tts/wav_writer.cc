#include "tts/wav_writer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace omni::tts {
namespace {

void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v));
  b.push_back(uint8_t(v >> 8));
}

void write_bytes(const std::string& path, const void* data, size_t n) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), std::fclose);
  if (!f) throw Error(path + ": cannot create: " + std::strerror(errno));
  if (n && std::fwrite(data, 1, n, f.get()) != n) throw Error(path + ": write failed");
  if (std::fclose(f.release()) != 0) throw Error(path + ": write failed");
}

}  // namespace

std::vector<uint8_t> wav_s16_bytes(std::span<const int16_t> samples, int sample_rate) {
  const uint64_t data_bytes = uint64_t(samples.size()) * 2;
  if (data_bytes > 0xFFFFFFFFull - 36) throw Error("WAV: too many samples for one file");
  std::vector<uint8_t> b;
  b.reserve(44 + data_bytes);
  b.insert(b.end(), {'R', 'I', 'F', 'F'});
  put32(b, uint32_t(36 + data_bytes));
  b.insert(b.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  put32(b, 16);
  put16(b, 1);  // PCM
  put16(b, 1);  // mono
  put32(b, uint32_t(sample_rate));
  put32(b, uint32_t(sample_rate) * 2);
  put16(b, 2);
  put16(b, 16);
  b.insert(b.end(), {'d', 'a', 't', 'a'});
  put32(b, uint32_t(data_bytes));
  for (int16_t s : samples) put16(b, uint16_t(s));
  return b;
}

void write_wav_s16(const std::string& path, std::span<const int16_t> samples, int sample_rate) {
  const auto bytes = wav_s16_bytes(samples, sample_rate);
  write_bytes(path, bytes.data(), bytes.size());
}

void write_raw_f32(const std::string& path, std::span<const float> samples) {
  std::vector<uint8_t> b(samples.size() * 4);
  for (size_t i = 0; i < samples.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &samples[i], 4);
    for (int k = 0; k < 4; ++k) b[i * 4 + k] = uint8_t(u >> (8 * k));
  }
  write_bytes(path, b.data(), b.size());
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
