#include "asr/audio_io.h"

#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "asr/tone_testing.h"
#include "asr/wav.h"
#include "core/error.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

using testing::fit_tone;
using testing::sine;

Audio jfk() { return read_wav_file(omni::testing::refdata("asr/audio/jfk.wav")); }

Audio tone(int rate, double secs, int channels = 1) {
  Audio a;
  a.sample_rate = rate;
  a.channels = channels;
  const auto x = sine(1000, rate, static_cast<size_t>(rate * secs));
  for (const float v : x) {
    for (int c = 0; c < channels; ++c) a.samples.push_back(v);
  }
  return a;
}

// FLAC is lossless: the int16 speech comes back bit for bit, from memory and from a file.
TEST(AudioIo, FlacRoundTripIsExact) {
  const Audio src = jfk();
  const auto flac = sndfile_encode_memory(src, SndFormat::kFlac16);
  ASSERT_EQ(std::string(flac.begin(), flac.begin() + 4), "fLaC");
  EXPECT_LT(flac.size(), 352044u);  // smaller than the WAV
  const Audio mem = load_audio_memory(flac, "jfk.flac");
  EXPECT_EQ(mem.sample_rate, 16000);
  EXPECT_EQ(mem.channels, 1);
  EXPECT_EQ(mem.samples, src.samples);

  const auto path = std::filesystem::temp_directory_path() / "omni_audio_io_test.flac";
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(flac.data(), 1, flac.size(), f);
    std::fclose(f);
  }
  EXPECT_EQ(load_audio_file(path.string()).samples, src.samples);
  EXPECT_EQ(sndfile_decode_file(path.string()).samples, src.samples);
  std::filesystem::remove(path);
}

// Lossy codecs: the tone survives (frequency, level) within codec accuracy.
TEST(AudioIo, LossyContainersDecode) {
  struct Case {
    SndFormat format;
    const char* name;
    int rate;
    double min_snr_db;
  };
  for (const Case c :
       {Case{SndFormat::kOggVorbis, "vorbis", 44100, 25},
        Case{SndFormat::kOggOpus, "opus", 48000, 20}, Case{SndFormat::kMp3, "mp3", 44100, 25},
        Case{SndFormat::kAiff16, "aiff", 22050, 80}}) {
    SCOPED_TRACE(c.name);
    const Audio src = tone(c.rate, 1.0, 2);
    const auto bytes = sndfile_encode_memory(src, c.format);
    const Audio out = load_audio_memory(bytes, c.name);
    EXPECT_EQ(out.sample_rate, c.rate);
    EXPECT_EQ(out.channels, 2);
    // Encoders add delay / padding of up to a few thousand frames.
    EXPECT_NEAR(static_cast<double>(out.frames()), c.rate, 0.1 * c.rate);
    const Audio m = downmix_to_mono(out);
    const size_t n = std::min(m.frames(), static_cast<size_t>(c.rate));
    const auto fit = fit_tone(m.samples, 1000, c.rate, n / 4, 3 * n / 4);
    EXPECT_NEAR(fit.amplitude, 0.5, 0.05);
    EXPECT_GT(fit.snr_db, c.min_snr_db);
  }
}

// WAV files with codecs our parser leaves to libsndfile.
TEST(AudioIo, AdpcmAndGsmWavGoThroughLibsndfile) {
  for (const int codec : {SF_FORMAT_IMA_ADPCM, SF_FORMAT_MS_ADPCM, SF_FORMAT_GSM610}) {
    SCOPED_TRACE(codec);
    const Audio src = tone(8000, 1.0);
    const auto bytes = sndfile_encode_memory(src, SF_FORMAT_WAV | codec);
    EXPECT_THROW(read_wav(bytes, "codec.wav"), WavUnsupportedEncoding);
    const Audio out = load_audio_memory(bytes, "codec.wav");
    EXPECT_EQ(out.sample_rate, 8000);
    EXPECT_NEAR(static_cast<double>(out.frames()), 8000.0, 400.0);
    EXPECT_GT(fit_tone(out.samples, 1000, 8000, 2000, 6000).snr_db, 15);
  }
}

TEST(AudioIo, GarbageIsAFormatError) {
  EXPECT_THROW(load_audio_memory({}, "empty.bin"), FormatError);
  std::mt19937 rng(5);
  std::vector<uint8_t> junk(4096);
  for (auto& b : junk) b = static_cast<uint8_t>(rng());
  try {
    load_audio_memory(junk, "junk.bin");
    FAIL() << "random bytes decoded";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("junk.bin"), std::string::npos);
  }
  EXPECT_THROW(sndfile_decode_file("/nonexistent/omni.flac"), FormatError);
  EXPECT_THROW(load_audio_file("/nonexistent/omni.wav"), Error);
}

// Corrupt compressed streams: libsndfile either stops early or reports an error; never a crash.
TEST(AudioIo, CorruptFlacIsHandled) {
  const auto flac = sndfile_encode_memory(tone(16000, 0.5), SndFormat::kFlac16);
  std::mt19937 rng(11);
  int ok = 0, rejected = 0;
  for (int iter = 0; iter < 200; ++iter) {
    auto b = flac;
    if (iter % 2) {
      b.resize(rng() % b.size());
    } else {
      for (int f = 0; f < 8; ++f) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    try {
      const Audio a = load_audio_memory(b, "bad.flac");
      EXPECT_LE(a.frames(), 8000u + 4096u);
      ++ok;
    } catch (const FormatError&) {
      ++rejected;
    }
  }
  EXPECT_EQ(ok + rejected, 200);
}

TEST(AudioIo, DecodedSizeLimit) {
  const auto flac = sndfile_encode_memory(tone(16000, 2.0), SndFormat::kFlac16);
  EXPECT_THROW(sndfile_decode_memory(flac, "big.flac", 1000), FormatError);
  EXPECT_EQ(sndfile_decode_memory(flac, "big.flac", 32000).frames(), 32000u);
}

std::vector<uint8_t> s16le(const std::vector<int16_t>& v) {
  std::vector<uint8_t> b;
  for (const int16_t s : v) {
    b.push_back(static_cast<uint8_t>(s));
    b.push_back(static_cast<uint8_t>(static_cast<uint16_t>(s) >> 8));
  }
  return b;
}

TEST(AudioIo, RawS16leFromStreamAndFd) {
  auto bytes = s16le({0, 1, -1, 32767, -32768, 1000});
  bytes.push_back(0x7F);  // trailing odd byte: dropped
  const std::vector<float> want = {0.0f,  1 / 32768.0f,   -1 / 32768.0f, 32767 / 32768.0f,
                                   -1.0f, 1000 / 32768.0f};

  std::FILE* f = fmemopen(bytes.data(), bytes.size(), "rb");
  ASSERT_NE(f, nullptr);
  const Audio a = read_raw_s16le(f, 16000);
  std::fclose(f);
  EXPECT_EQ(a.sample_rate, 16000);
  EXPECT_EQ(a.samples, want);

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fds[1]);
  const Audio b = read_raw_s16le_fd(fds[0], 8000, 2);
  close(fds[0]);
  EXPECT_EQ(b.channels, 2);
  EXPECT_EQ(b.frames(), 3u);
  EXPECT_EQ(b.samples, want);

  // jfk's samples, piped raw, equal the WAV reader's.
  const Audio ref = jfk();
  const auto wav = omni::testing::read_file(omni::testing::refdata("asr/audio/jfk.wav"));
  WavInfo info;
  read_wav(wav, "jfk.wav", &info);
  const std::vector<uint8_t> pcm(wav.begin() + static_cast<std::ptrdiff_t>(info.data_offset),
                                 wav.end());
  EXPECT_EQ(decode_raw_s16le(pcm, 16000).samples, ref.samples);

  EXPECT_THROW(read_raw_s16le(nullptr, 16000), Error);
  EXPECT_THROW(decode_raw_s16le(pcm, 0), Error);
  f = fmemopen(bytes.data(), bytes.size(), "rb");
  EXPECT_THROW(read_raw_s16le(f, 16000, 1, "<stdin>", 2), FormatError);
  std::fclose(f);
}

TEST(AudioIo, WholeFilesFromAStream) {
  const Audio src = tone(22050, 0.25, 2);
  for (auto bytes : {encode_wav(src, WavEncoding::kFloat32),
                     sndfile_encode_memory(src, SndFormat::kFlac16)}) {
    std::FILE* f = fmemopen(bytes.data(), bytes.size(), "rb");
    ASSERT_NE(f, nullptr);
    const Audio a = load_audio_stream(f, "<stdin>");
    std::fclose(f);
    EXPECT_EQ(a.channels, 2);
    EXPECT_EQ(a.sample_rate, 22050);
    EXPECT_EQ(a.frames(), src.frames());
  }
  auto bytes = encode_wav(src, WavEncoding::kPcm16);
  std::FILE* f = fmemopen(bytes.data(), bytes.size(), "rb");
  EXPECT_THROW(load_audio_stream(f, "<stdin>", 100), FormatError);
  std::fclose(f);
}

TEST(AudioIo, DownmixAverages) {
  Audio st;
  st.sample_rate = 16000;
  st.channels = 2;
  st.samples = {1.0f, 0.0f, -0.5f, -0.25f};
  EXPECT_EQ(downmix_to_mono(st).samples, (std::vector<float>{0.5f, -0.375f}));
  Audio six;
  six.sample_rate = 48000;
  six.channels = 6;
  six.samples = {0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f};
  const Audio m = downmix_to_mono(six);
  ASSERT_EQ(m.samples.size(), 1u);
  EXPECT_NEAR(m.samples[0], 0.6f, 1e-6);
  Audio none;
  none.channels = 0;
  EXPECT_THROW(downmix_to_mono(none), Error);
}

}  // namespace
}  // namespace omni::asr
