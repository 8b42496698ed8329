#include <gtest/gtest.h>

#include "testing/refdata.h"

namespace omni {
namespace {

using omni::testing::binary;
using omni::testing::refdata;

struct Run {
  int exit_code;
  std::string out;
};
Run run(const std::string& cmd, bool merge_stderr = false) {
  Run r;
  r.exit_code = omni::testing::run_command(cmd, &r.out, merge_stderr);
  return r;
}

TEST(TranscribeCli, PocketsphinxIsTheDefaultWithoutAModel) {
  const auto wav = refdata("asr/audio/pocketsphinx_goforward.wav");
  const auto srt = run(binary("omni") + " transcribe " + wav + " --format srt");
  EXPECT_EQ(srt.exit_code, 0) ;
  EXPECT_EQ(srt.out.rfind("1\n00:00:00,", 0), 0u) << srt.out;
  EXPECT_NE(srt.out.find("go forward ten meters"), std::string::npos) << srt.out;
  const auto vtt = run(binary("omni") + " transcribe " + wav + " --engine pocketsphinx --format vtt");
  EXPECT_EQ(vtt.out.rfind("WEBVTT\n\n00:00:00.", 0), 0u) << vtt.out;
  const auto json = run(binary("omni") + " transcribe " + wav + " --format json");
  EXPECT_EQ(json.out, "{\"text\":\"go forward ten meters\"}\n");
}

TEST(TranscribeCli, ClearErrors) {
  const auto wav = refdata("asr/audio/pocketsphinx_goforward.wav");
  const auto ko = run(binary("omni") + " transcribe " + wav + " -l ko", true);
  EXPECT_EQ(ko.exit_code, 1);
  EXPECT_NE(ko.out.find("English only"), std::string::npos) << ko.out;
  const auto nomodel = run(binary("omni") + " transcribe " + wav + " --engine whisper", true);
  EXPECT_EQ(nomodel.exit_code, 1);
  EXPECT_NE(nomodel.out.find("needs a model"), std::string::npos) << nomodel.out;
  const auto badfmt = run(binary("omni") + " transcribe " + wav + " --format doc");
  EXPECT_EQ(badfmt.exit_code, 2);
}

}  // namespace
}  // namespace omni
