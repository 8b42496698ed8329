#include "asr/wav.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>

#include "asr/audio_io.h"
#include "asr/wav_testing.h"
#include "core/error.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

using namespace omni::asr::testing;  // WAV byte builders

std::string error_of(const Bytes& b) {
  try {
    read_wav(b, "t.wav");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

// ---- refdata ------------------------------------------------------------------------------

TEST(Wav, RefdataClipsAreInt16Over32768) {
  const std::pair<const char*, size_t> clips[] = {
      {"jfk.wav", 176000},
      {"pocketsphinx_goforward.wav", 44580},
      {"librivox_sense_and_sensibility_0870.wav", 113600},
      {"librivox_sense_and_sensibility_0880.wav", 47840},
      {"librivox_sense_and_sensibility_0930.wav", 52640},
      {"librispeech_8455-210777-0068.wav", 41440},
      {"osr_us_000_0034_first8.wav", 460800},
  };
  for (const auto& [name, frames] : clips) {
    const auto path = omni::testing::refdata(std::string("asr/audio/") + name);
    const auto bytes = omni::testing::read_file(path);
    WavInfo info;
    const Audio a = read_wav(bytes, path, &info);
    EXPECT_EQ(a.sample_rate, 16000) << name;
    EXPECT_EQ(a.channels, 1) << name;
    ASSERT_EQ(a.frames(), frames) << name;
    EXPECT_EQ(info.format_tag, 1);
    EXPECT_FALSE(info.truncated);
    for (size_t i = 0; i < frames; ++i) {
      int16_t s;
      std::memcpy(&s, &bytes[info.data_offset + 2 * i], 2);
      ASSERT_EQ(a.samples[i], s / 32768.0f) << name << " sample " << i;
    }
    // libsndfile decodes the same bytes to the same floats.
    EXPECT_EQ(sndfile_decode_memory(bytes, name).samples, a.samples) << name;
  }
}

// ---- every layout against libsndfile ------------------------------------------------------

TEST(Wav, MatchesLibsndfileForEveryLayout) {
  struct Sub {
    int sf;
    uint16_t tag;
    int bits;
  };
  const Sub subs[] = {{SF_FORMAT_PCM_U8, 1, 8},  {SF_FORMAT_PCM_16, 1, 16},
                      {SF_FORMAT_PCM_24, 1, 24}, {SF_FORMAT_PCM_32, 1, 32},
                      {SF_FORMAT_FLOAT, 3, 32},  {SF_FORMAT_DOUBLE, 3, 64},
                      {SF_FORMAT_ULAW, 7, 8},    {SF_FORMAT_ALAW, 6, 8}};
  struct Major {
    int sf;
    const char* magic;
    bool extensible;
  };
  const Major majors[] = {{SF_FORMAT_WAV, "RIFF", false},
                          {SF_FORMAT_WAVEX, "RIFF", true},
                          {SF_FORMAT_RF64, "RF64", false},
                          {SF_FORMAT_WAV | SF_ENDIAN_BIG, "RIFX", false}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  int checked = 0;
  for (const auto& major : majors) {
    for (const auto& sub : subs) {
      for (const int channels : {1, 2, 5}) {
        Audio src;
        src.sample_rate = channels == 2 ? 44100 : 8000;
        src.channels = channels;
        src.samples.resize(257 * channels);
        for (auto& v : src.samples) v = u(rng) * 0.9f;
        Bytes bytes;
        try {
          bytes = sndfile_encode_memory(src, major.sf | sub.sf);
        } catch (const Error&) {
          continue;  // combination libsndfile does not write (e.g. RIFX u-law)
        }
        SCOPED_TRACE(std::string(major.magic) + " subtype " + std::to_string(sub.sf) + " ch " +
                     std::to_string(channels));
        ASSERT_EQ(std::memcmp(bytes.data(), major.magic, 4), 0);
        WavInfo info;
        const Audio ours = read_wav(bytes, "gen.wav", &info);
        const Audio theirs = sndfile_decode_memory(bytes, "gen.wav");
        EXPECT_EQ(info.format_tag, sub.tag);
        EXPECT_EQ(info.container_bits, sub.bits);
        EXPECT_EQ(info.channels, channels);
        EXPECT_EQ(ours.sample_rate, src.sample_rate);
        ASSERT_EQ(ours.channels, channels);
        ASSERT_EQ(ours.samples.size(), theirs.samples.size());
        EXPECT_EQ(ours.samples, theirs.samples);
        ++checked;
      }
    }
  }
  std::printf("WAV layouts cross-checked against libsndfile: %d\n", checked);
  EXPECT_GE(checked, 80);  // most of the 96 combinations exist
}

// ---- structure ----------------------------------------------------------------------------

TEST(Wav, SkipsListUnknownAndOddChunks) {
  WavInfo info;
  const Audio a = read_wav(sample_file(), "t.wav", &info);
  EXPECT_EQ(a.sample_rate, 22050);
  EXPECT_EQ(a.channels, 2);
  ASSERT_EQ(a.frames(), 3u);
  EXPECT_EQ(a.samples, (std::vector<float>{100 / 32768.0f, -100 / 32768.0f, 32767 / 32768.0f, -1.0f,
                                           0.0f, 1 / 32768.0f}));
  EXPECT_FALSE(info.truncated);
  EXPECT_FALSE(info.streaming);
}

TEST(Wav, DataBeforeFmtAndWrongRiffSize) {
  Bytes b = riff({chunk("data", s16({1, 2, 3})), chunk("fmt ", fmt_body(1, 1, 16000, 2, 16))});
  b[4] = b[5] = b[6] = b[7] = 0;  // RIFF size 0: ignored
  const Audio a = read_wav(b, "t.wav");
  EXPECT_EQ(a.frames(), 3u);
}

TEST(Wav, StreamingSizeReadsToEndOfFile) {
  Bytes b = riff(
      {chunk("fmt ", fmt_body(1, 1, 8000, 2, 16)), chunk("data", s16({5, 6, 7, 8}), 0xFFFFFFFF)});
  b.push_back(0x34);  // a partial trailing frame is dropped
  WavInfo info;
  const Audio a = read_wav(b, "t.wav", &info);
  EXPECT_TRUE(info.streaming);
  EXPECT_EQ(info.data_declared, 0xFFFFFFFFu);
  EXPECT_EQ(a.frames(), 4u);
}

TEST(Wav, OversizedDataChunkIsTruncatedAndFlagged) {
  // The data chunk claims 4 GiB - 2; the file holds 3 frames.
  const Bytes b = riff(
      {chunk("fmt ", fmt_body(1, 1, 16000, 2, 16)), chunk("data", s16({1, 2, 3}), 0xFFFFFFFE)});
  WavInfo info;
  const Audio a = read_wav(b, "t.wav", &info);
  EXPECT_TRUE(info.truncated);
  EXPECT_EQ(info.data_declared, 0xFFFFFFFEu);
  EXPECT_EQ(info.data_used, 6u);
  EXPECT_EQ(a.frames(), 3u);
}

TEST(Wav, ExtensibleWithFewerValidBits) {
  // 20 significant bits in 24-bit slots, left-justified: decoded on the 24-bit scale.
  Bytes data;
  for (const int32_t v : {0x7FFFF0, -0x800000, 0x000010}) {
    data.push_back(static_cast<uint8_t>(v));
    data.push_back(static_cast<uint8_t>(v >> 8));
    data.push_back(static_cast<uint8_t>(v >> 16));
  }
  WavInfo info;
  const Audio a =
      read_wav(riff({chunk("fmt ", fmt_extensible(1, 1, 48000, 24, 20)), chunk("data", data)}),
               "t.wav", &info);
  EXPECT_TRUE(info.extensible);
  EXPECT_EQ(info.valid_bits, 20);
  EXPECT_EQ(a.samples, (std::vector<float>{0x7FFFF0 / 8388608.0f, -1.0f, 16 / 8388608.0f}));
}

TEST(Wav, NonFiniteFloatsBecomeZero) {
  Bytes data;
  for (const float f : {0.5f, std::numeric_limits<float>::quiet_NaN(),
                        -std::numeric_limits<float>::infinity(), -0.25f}) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put32(data, bits);
  }
  WavInfo info;
  const Audio a = read_wav(riff({chunk("fmt ", fmt_body(3, 1, 16000, 4, 32)), chunk("data", data)}),
                           "t.wav", &info);
  EXPECT_EQ(a.samples, (std::vector<float>{0.5f, 0.0f, 0.0f, -0.25f}));
  EXPECT_EQ(info.non_finite, 2u);
}

// ---- hostile input ------------------------------------------------------------------------

TEST(Wav, MalformedHeadersGiveClearErrors) {
  const Bytes data = chunk("data", s16({1, 2}));
  const auto with_fmt = [&](const Bytes& fmt) { return riff({chunk("fmt ", fmt), data}); };
  struct Case {
    Bytes bytes;
    const char* expect;
  };
  const Case cases[] = {
      {{}, "empty file"},
      {{'R', 'I', 'F', 'F', 0, 0}, "too short"},
      {Bytes{'O', 'g', 'g', 'S', 0, 0, 0, 0, 'W', 'A', 'V', 'E'}, "not a WAV file"},
      {Bytes{'R', 'I', 'F', 'F', 0, 0, 0, 0, 'A', 'V', 'I', ' '}, "not WAVE"},
      {riff({data}), "no fmt chunk"},
      {riff({chunk("fmt ", fmt_body(1, 1, 16000, 2, 16))}), "no data chunk"},
      {with_fmt(fmt_body(1, 0, 16000, 2, 16)), "channels is 0"},
      {with_fmt(fmt_body(1, 1, 0, 2, 16)), "sample rate is 0"},
      {with_fmt(fmt_body(1, 1, 4000000000u, 2, 16)), "implausible"},
      {with_fmt(fmt_body(1, 1, 16000, 3, 16)), "block align 3 does not match"},
      {with_fmt(fmt_body(1, 2, 16000, 2, 16)), "block align 2 does not match"},
      {with_fmt(fmt_body(1, 1, 16000, 0, 16)), "block align is 0"},
      {with_fmt(fmt_body(1, 1, 16000, 2, 0)), "bits per sample is 0"},
      {with_fmt(fmt_body(1, 1, 16000, 5, 40)), "PCM with 40 bits"},
      {with_fmt(fmt_body(3, 1, 16000, 2, 16)), "IEEE float with 16 bits"},
      {with_fmt(fmt_body(0x55, 1, 16000, 2, 16)), "unsupported format tag 85"},
      {with_fmt(fmt_extensible(1, 1, 16000, 16, 16, false)), "sub-format GUID"},
      {with_fmt(fmt_extensible(1, 1, 16000, 16, 24)), "valid bits 24 exceed"},
      {with_fmt(Bytes(10, 0)), "need at least 16"},
      {riff({chunk("fmt ", fmt_body(1, 1, 16000, 2, 16), 0xFFFFFFF0u), data}), "fmt chunk claims"},
      {riff({chunk("fmt ", fmt_body(1, 1, 16000, 2, 16)), chunk("data", s16({1}), 0xFFFFFFFF)},
            "RF64"),
       "without a ds64"},
  };
  for (const auto& c : cases) {
    const std::string err = error_of(c.bytes);
    EXPECT_NE(err.find(c.expect), std::string::npos)
        << "expected '" << c.expect << "', got '" << err << "'";
    EXPECT_NE(err.find("t.wav"), std::string::npos) << err;
  }
}

// Every prefix of real files (refdata, libsndfile's WAVEX / RF64 / RIFX) cut before the first
// sample is rejected; cut inside the samples it decodes the whole frames present, flagged.
TEST(Wav, TruncationAtEveryHeaderOffsetOfRealFiles) {
  std::vector<std::pair<std::string, Bytes>> files;
  files.emplace_back("jfk.wav",
                     omni::testing::read_file(omni::testing::refdata("asr/audio/jfk.wav")));
  Audio src;
  src.sample_rate = 44100;
  src.channels = 2;
  src.samples.assign(200, 0.25f);
  files.emplace_back("wavex24", sndfile_encode_memory(src, SF_FORMAT_WAVEX | SF_FORMAT_PCM_24));
  files.emplace_back("rf64float", sndfile_encode_memory(src, SF_FORMAT_RF64 | SF_FORMAT_FLOAT));
  files.emplace_back("rifx16",
                     sndfile_encode_memory(src, SF_FORMAT_WAV | SF_FORMAT_PCM_16 | SF_ENDIAN_BIG));
  for (const auto& [name, full] : files) {
    WavInfo whole;
    read_wav(full, name, &whole);
    const uint64_t block = static_cast<uint64_t>(whole.channels) * whole.container_bits / 8;
    for (size_t len = 0; len < whole.data_offset + 64; ++len) {
      const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
      if (len < whole.data_offset) {
        EXPECT_THROW(read_wav(cut, name), FormatError) << name << " cut at " << len;
      } else {
        WavInfo info;
        const Audio a = read_wav(cut, name, &info);
        EXPECT_TRUE(info.truncated) << name << " " << len;
        EXPECT_EQ(a.frames(), (len - whole.data_offset) / block) << name << " " << len;
      }
    }
  }
}

// Every prefix of a valid file either parses (cut inside the samples) or throws FormatError.
TEST(Wav, TruncationAtEveryOffset) {
  const Bytes full = sample_file();
  const size_t data_start = full.size() - 20;  // "data" header (8) + 12 sample bytes at the end
  for (size_t len = 0; len < full.size(); ++len) {
    const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    if (len < data_start + 8) {
      EXPECT_THROW(read_wav(cut, "cut.wav"), FormatError) << len;
    } else {
      WavInfo info;
      const Audio a = read_wav(cut, "cut.wav", &info);
      EXPECT_TRUE(info.truncated) << len;
      EXPECT_EQ(a.frames(), (len - data_start - 8) / 4) << len;
    }
  }
}

TEST(Wav, RandomCorruptionNeverCrashes) {
  std::vector<Bytes> seeds = {sample_file()};
  seeds.push_back(
      riff({chunk("fmt ", fmt_extensible(3, 3, 44100, 32, 32)), chunk("data", Bytes(48, 0x3F))}));
  Audio src;
  src.sample_rate = 8000;
  src.channels = 2;
  src.samples.assign(64, 0.5f);
  seeds.push_back(sndfile_encode_memory(src, SF_FORMAT_RF64 | SF_FORMAT_PCM_24));
  std::mt19937 rng(42);
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 6000; ++iter) {
    Bytes b = seeds[iter % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t pos = rng() % b.size();
      b[pos] = rng() % 3 == 0 ? static_cast<uint8_t>(rng())
                              : static_cast<uint8_t>(b[pos] ^ (1u << (rng() % 8)));
    }
    if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
    try {
      const Audio a = read_wav(b, "fuzz.wav");
      EXPECT_LE(a.samples.size(), 4 * b.size());  // allocation bounded by the input
      for (const float v : a.samples) ASSERT_TRUE(std::isfinite(v));
      ++parsed;
    } catch (const FormatError&) {
      ++rejected;
    }
  }
  EXPECT_GT(parsed, 100);
  EXPECT_GT(rejected, 100);
}

// ---- writer -------------------------------------------------------------------------------

TEST(WavWriter, Pcm16RoundTripsEveryInt16) {
  Audio a;
  a.sample_rate = 24000;
  a.channels = 1;
  for (int v = -32768; v <= 32767; ++v) a.samples.push_back(v / 32768.0f);
  const Bytes b = encode_wav(a, WavEncoding::kPcm16);
  EXPECT_EQ(b.size(), 44u + 2 * 65536);
  EXPECT_EQ(read_wav(b).samples, a.samples);
  // Out-of-range and NaN input clamps instead of wrapping.
  Audio loud;
  loud.sample_rate = 16000;
  loud.samples = {2.0f, -2.0f, std::numeric_limits<float>::quiet_NaN(), 0.99999f};
  EXPECT_EQ(read_wav(encode_wav(loud, WavEncoding::kPcm16)).samples,
            (std::vector<float>{32767 / 32768.0f, -1.0f, 0.0f, 32767 / 32768.0f}));
}

TEST(WavWriter, Float32RoundTripsAndLibsndfileAgrees) {
  Audio a;
  a.sample_rate = 22050;
  a.channels = 3;
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 0.3f);
  for (int i = 0; i < 300; ++i) a.samples.push_back(g(rng));
  const Bytes b = encode_wav(a, WavEncoding::kFloat32);
  const Audio back = read_wav(b);
  EXPECT_EQ(back.samples, a.samples);
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.sample_rate, 22050);
  EXPECT_EQ(sndfile_decode_memory(b).samples, a.samples);
}

TEST(WavWriter, WritesFiles) {
  const auto path = std::filesystem::temp_directory_path() / "omni_wav_writer_test.wav";
  Audio a;
  a.sample_rate = 16000;
  a.samples = {0.0f, 0.5f, -0.5f};
  write_wav_file(path.string(), a, WavEncoding::kPcm16);
  EXPECT_EQ(read_wav_file(path.string()).samples, a.samples);
  std::filesystem::remove(path);
  EXPECT_THROW(read_wav_file(path.string()), Error);
  Audio bad;
  bad.channels = 0;
  EXPECT_THROW(encode_wav(bad, WavEncoding::kPcm16), Error);
}

}  // namespace
}  // namespace omni::asr
