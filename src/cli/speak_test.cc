// `omni speak` as a subprocess, against the TTS goldens.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "testing/refdata.h"

namespace omni {
namespace {

using omni::testing::binary;
using omni::testing::read_f32;
using omni::testing::read_file;
using omni::testing::refdata;
using omni::testing::run_command;

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("omni_speak_test_" + name)).string();
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

int max_s16_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  int worst = 0;
  for (size_t i = 44; i + 1 < std::min(a.size(), b.size()); i += 2) {
    worst = std::max(worst, std::abs(int(int16_t(a[i] | (a[i + 1] << 8))) -
                                     int(int16_t(b[i] | (b[i + 1] << 8)))));
  }
  return worst;
}

TEST(SpeakCli, PiperVoiceWavAndRaw) {
  const std::string voice = refdata("tts/models/tiny.onnx");
  const std::string wav = tmp("en3.wav"), raw = tmp("en3.f32");
  std::string out;
  ASSERT_EQ(run_command(binary("omni") + " speak 'How are you doing today?' --voice " + voice +
                            " --noise-scale 0 --noise-w 0 -o " + wav,
                        &out, true),
            0)
      << out;
  const auto golden_wav = read_file(refdata("tts/golden/en3_ls1.0.wav"));
  const auto ours = read_file(wav);
  ASSERT_EQ(ours.size(), golden_wav.size());
  EXPECT_TRUE(std::equal(ours.begin(), ours.begin() + 44, golden_wav.begin()));
  EXPECT_LE(max_s16_diff(ours, golden_wav), 1);
  ASSERT_EQ(run_command(binary("omni") + " speak 'How are you doing today?' --voice " + voice +
                            " --noise-scale 0 --noise-w 0 --length-scale 1.3 --threads 2 "
                            "--raw-f32 -o " +
                            raw,
                        &out, true),
            0)
      << out;
  EXPECT_LE(max_abs_diff(read_f32(raw), read_f32(refdata("tts/golden/en3_ls1.3.audio.f32"))),
            2e-5f);
  // The portable (non-SIMD) convolution path gives the same audio.
  ASSERT_EQ(run_command("OMNI_CPU=scalar " + binary("omni") +
                            " speak 'How are you doing today?' --voice " + voice +
                            " --noise-scale 0 --noise-w 0 --raw-f32 -o " + raw,
                        &out, true),
            0)
      << out;
  EXPECT_LE(max_abs_diff(read_f32(raw), read_f32(refdata("tts/golden/en3_ls1.0.audio.f32"))),
            2e-5f);
  std::filesystem::remove(wav);
  std::filesystem::remove(raw);
}

TEST(SpeakCli, MultiSpeaker) {
  const std::string raw = tmp("ms.f32");
  std::string out;
  ASSERT_EQ(run_command(binary("omni") + " speak 'Hello, my name is Omni.' --voice " +
                            refdata("tts/models/tiny-ms.onnx") +
                            " --speaker 1 --noise-scale 0 --noise-w 0 --raw-f32 -o " + raw,
                        &out, true),
            0)
      << out;
  EXPECT_LE(max_abs_diff(read_f32(raw), read_f32(refdata("tts/golden/ms_en1_sid1.audio.f32"))),
            2e-5f);
  // By name from the config's speaker_id_map (spk_b = 1).
  ASSERT_EQ(run_command(binary("omni") + " speak 'Hello, my name is Omni.' --voice " +
                            refdata("tts/models/tiny-ms.onnx") +
                            " --speaker spk_b --noise-scale 0 --noise-w 0 --raw-f32 -o " + raw,
                        &out, true),
            0)
      << out;
  EXPECT_LE(max_abs_diff(read_f32(raw), read_f32(refdata("tts/golden/ms_en1_sid1.audio.f32"))),
            2e-5f);
  EXPECT_EQ(run_command(binary("omni") + " speak hi --voice " + refdata("tts/models/tiny-ms.onnx") +
                            " --speaker 5 -o " + raw,
                        &out, true),
            1);
  EXPECT_NE(out.find("speaker"), std::string::npos) << out;
  std::filesystem::remove(raw);
}

TEST(SpeakCli, EspeakVoicesAndErrors) {
  const std::string wav = tmp("ko.wav");
  std::string out;
  ASSERT_EQ(run_command(binary("omni") + " speak '안녕하세요.' --voice ko -o " + wav, &out, true),
            0)
      << out;
  const auto bytes = read_file(wav);
  ASSERT_GT(bytes.size(), 44u + 2 * 4000);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "RIFF");
  EXPECT_EQ(
      run_command(binary("omni") + " speak hi --voice /nonexistent/v.onnx -o " + wav, &out, true),
      1);
  EXPECT_NE(out.find("v.onnx"), std::string::npos) << out;
  EXPECT_EQ(run_command(binary("omni") + " speak hi --voice xx-nope -o " + wav, &out, true), 1);
  EXPECT_EQ(run_command(binary("omni") + " speak hi", &out, true), 2);  // -o missing
  std::filesystem::remove(wav);
}

}  // namespace
}  // namespace omni
