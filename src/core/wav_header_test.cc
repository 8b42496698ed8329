#include "core/wav_header.h"

#include <gtest/gtest.h>

#include <cstring>

#include "asr/wav.h"
#include "core/error.h"

namespace omni {
namespace {

uint32_t u32_at(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

TEST(WavHeader, CanonicalLayoutReadsBack) {
  ByteWriter w;
  put_wav_header(w, kWavFormatPcm, 2, 22050, 16, 8);
  ASSERT_EQ(w.size(), 44u);
  const int16_t samples[4] = {1, -2, 32767, -32768};
  w.put_bytes(std::span(reinterpret_cast<const uint8_t*>(samples), 8));
  const auto& b = w.bytes();
  EXPECT_EQ(std::memcmp(b.data(), "RIFF", 4), 0);
  EXPECT_EQ(u32_at(b, 4), 36u + 8u);
  EXPECT_EQ(u32_at(b, 28), 22050u * 4u);  // byte rate = rate * block_align
  asr::WavInfo info;
  const asr::Audio a = asr::read_wav(b, "header", &info);
  EXPECT_EQ(a.channels, 2);
  EXPECT_EQ(a.sample_rate, 22050);
  ASSERT_EQ(a.samples.size(), 4u);
  EXPECT_FLOAT_EQ(a.samples[2], 32767.0f / 32768.0f);
}

TEST(WavHeader, StreamingSizeIsKept) {
  ByteWriter w;
  put_wav_header(w, kWavFormatPcm, 1, 16000, 16, 0xFFFFFFFFull);
  EXPECT_EQ(u32_at(w.bytes(), 4), 0xFFFFFFFFu);
  EXPECT_EQ(u32_at(w.bytes(), 40), 0xFFFFFFFFu);
}

TEST(WavHeader, RefusesWhatRiffCannotSay) {
  ByteWriter w;
  EXPECT_THROW(put_wav_header(w, kWavFormatPcm, 0, 16000, 16, 0), Error);
  EXPECT_THROW(put_wav_header(w, kWavFormatPcm, 1, 0, 16, 0), Error);
  EXPECT_THROW(put_wav_header(w, kWavFormatPcm, 1, 16000, 12, 0), Error);
  EXPECT_THROW(put_wav_header(w, kWavFormatFloat, 1, 16000, 32, 0x1'0000'0000ull), Error);
}

}  // namespace
}  // namespace omni
