// Small hand-made WAV fuzz seeds (fuzz/seeds/wav_*.wav) covering the layouts the refdata clips
// (all plain 16-bit mono) do not: built here so they stay reproducible. The test fails if a
// committed seed differs from what the builders produce; OMNI_REGEN_SEEDS=1 rewrites them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "asr/wav.h"
#include "asr/wav_testing.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

using namespace omni::asr::testing;

std::filesystem::path seeds_dir() {
  if (std::filesystem::exists("fuzz/seeds")) return "fuzz/seeds";
  return std::filesystem::path(omni::testing::binary("")) / ".." / ".." / "fuzz" / "seeds";
}

Bytes ramp(size_t n, uint8_t mul) {
  Bytes v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * mul + 1);
  return v;
}

Bytes floats32(std::initializer_list<float> v) {
  Bytes b;
  for (const float f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    put32(b, u);
  }
  return b;
}

Bytes pcm8_list() {
  Bytes list_body{'I', 'N', 'F', 'O'};
  append(list_body, chunk("ISFT", Bytes{'o', 'm', 'n', 'i', 0}));
  return riff({chunk("fmt ", fmt_body(1, 2, 11025, 2, 8)), chunk("LIST", list_body),
               chunk("data", ramp(33, 9))});
}

Bytes float_extensible() {
  return riff({chunk("fmt ", fmt_extensible(3, 3, 48000, 32, 32)), chunk("fact", Bytes{4, 0, 0, 0}),
               chunk("data", floats32({0.5f, -0.5f, 0.25f, 1.5f, -1.0f, 0.0f, 0.125f, -0.125f,
                                       0.75f, 0.1f, 0.2f, 0.3f}))});
}

Bytes rf64_pcm24() {
  Bytes ds64;
  put32(ds64, 0), put32(ds64, 0);   // RIFF size (unused by the reader)
  put32(ds64, 36), put32(ds64, 0);  // data size
  put32(ds64, 12), put32(ds64, 0);  // sample count
  put32(ds64, 0);                   // table length
  return riff({chunk("ds64", ds64), chunk("fmt ", fmt_body(1, 1, 96000, 3, 24)),
               chunk("data", ramp(36, 37), 0xFFFFFFFF)},
              "RF64");
}

// RIFX: the same structure with big-endian numbers.
Bytes rifx_pcm16() {
  // reserve + insert, not an initializer-list constructor: GCC 12 at -O3 reports a false
  // -Warray-bounds on the later inserts otherwise.
  Bytes b;
  b.reserve(64);
  b.insert(b.end(), {'R', 'I', 'F', 'X', 0, 0, 0, 0, 'W', 'A', 'V', 'E'});
  const auto be32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
  };
  const auto be16 = [&](uint32_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  };
  b.insert(b.end(), {'f', 'm', 't', ' '});
  be32(16), be16(1), be16(2), be32(8000), be32(32000), be16(4), be16(16);
  b.insert(b.end(), {'d', 'a', 't', 'a'});
  be32(24);
  const Bytes samples = ramp(24, 77);
  append(b, samples);
  const uint32_t size = static_cast<uint32_t>(b.size() - 8);
  for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<uint8_t>(size >> (24 - 8 * i));
  return b;
}

Bytes g711(uint16_t tag) {
  return riff({chunk("fmt ", fmt_body(tag, 1, 8000, 1, 8)), chunk("data", ramp(31, 13))});
}

Bytes float64_streaming() {
  Bytes data;
  for (const double d : {0.5, -0.25, 1e-3, -1.0}) {
    uint64_t u;
    std::memcpy(&u, &d, 8);
    put32(data, static_cast<uint32_t>(u));
    put32(data, static_cast<uint32_t>(u >> 32));
  }
  return riff({chunk("fmt ", fmt_body(3, 2, 44100, 16, 64)), chunk("data", data, 0xFFFFFFFF)});
}

Bytes pcm32_data_first() {
  return riff({chunk("data", ramp(40, 3)), chunk("junk", Bytes{9}),
               chunk("fmt ", fmt_body(1, 2, 16000, 8, 32))});
}

TEST(WavFuzzSeeds, CommittedSeedsMatchTheBuilders) {
  const std::vector<std::pair<const char*, std::function<Bytes()>>> seeds = {
      {"wav_pcm8_stereo_list.wav", pcm8_list},
      {"wav_float32_extensible_3ch.wav", float_extensible},
      {"wav_rf64_pcm24.wav", rf64_pcm24},
      {"wav_rifx_pcm16.wav", rifx_pcm16},
      {"wav_alaw.wav", [] { return g711(6); }},
      {"wav_mulaw.wav", [] { return g711(7); }},
      {"wav_float64_streaming.wav", float64_streaming},
      {"wav_pcm32_data_before_fmt.wav", pcm32_data_first},
  };
  const bool regen = std::getenv("OMNI_REGEN_SEEDS") != nullptr;
  for (const auto& [name, make] : seeds) {
    SCOPED_TRACE(name);
    const Bytes bytes = make();
    const auto path = (seeds_dir() / name).string();
    if (regen) {
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()),
                 static_cast<std::streamsize>(bytes.size()));
    }
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_TRUE(omni::testing::read_file(path) == bytes);
    // Each seed decodes: the fuzzer starts from valid files.
    WavInfo info;
    const Audio a = read_wav(bytes, name, &info);
    EXPECT_GT(a.frames(), 0u);
    for (const float v : a.samples) EXPECT_TRUE(std::isfinite(v));
  }
}

}  // namespace
}  // namespace omni::asr
