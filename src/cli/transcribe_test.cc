#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

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
  const auto jj = nlohmann::json::parse(json.out);
  EXPECT_EQ(jj["text"], "go forward ten meters");
  EXPECT_EQ(jj["language"], "en");
  ASSERT_EQ(jj["segments"].size(), 1u);
  EXPECT_EQ(jj["segments"][0]["text"], "go forward ten meters");
  const auto oa = run(binary("omni") + " transcribe " + wav + " --format verbose_json");
  EXPECT_NE(oa.out.find("\"task\":\"transcribe\""), std::string::npos) << oa.out;
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

TEST(TranscribeCli, SeveralFilesOneOutputEach) {
  const auto model = refdata("asr/models/ggml-micro.en-random-f16.bin");
  const auto a = refdata("asr/audio/pocketsphinx_goforward.wav");
  const auto b = refdata("asr/audio/librivox_sense_and_sensibility_0880.wav");
  const std::string cmd = binary("omni") + " transcribe -t 1 --beam 2 -m " + model + " " + a + " " + b;
  // JSON: one document per line, with the file, language, segments and token probabilities.
  const auto json = run(cmd + " --format json");
  ASSERT_EQ(json.exit_code, 0) << json.out;
  const auto nl = json.out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  const auto j1 = nlohmann::json::parse(json.out.substr(0, nl));
  const auto j2 = nlohmann::json::parse(json.out.substr(nl + 1));
  EXPECT_EQ(j1["file"], a);
  EXPECT_EQ(j2["file"], b);
  EXPECT_EQ(j1["language"], "en");
  ASSERT_FALSE(j1["segments"].empty());
  const auto& seg = j1["segments"][0];
  EXPECT_LT(seg["t0"].get<int>(), seg["t1"].get<int>());
  ASSERT_FALSE(seg["tokens"].empty());
  EXPECT_GT(seg["tokens"][0]["p"].get<double>(), 0.0);
  EXPECT_LE(seg["tokens"][0]["plog"].get<double>(), 0.0);
  // txt is text; several files get a header each.
  const auto txt = run(cmd + " --format txt");
  EXPECT_EQ(txt.exit_code, 0);
  EXPECT_EQ(txt.out.rfind("==> " + a + " <==\n", 0), 0u) << txt.out;
  EXPECT_NE(txt.out.find("==> " + b + " <==\n"), std::string::npos) << txt.out;
  // -o DIR: one file per input.
  const std::string dir = ::testing::TempDir() + "omni_transcribe_out";
  const auto srt = run(cmd + " --format srt -o " + dir);
  EXPECT_EQ(srt.exit_code, 0);
  EXPECT_EQ(srt.out, "");
  for (const char* stem : {"pocketsphinx_goforward", "librivox_sense_and_sensibility_0880"}) {
    std::ifstream f(dir + "/" + stem + ".srt");
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string body = ss.str();
    EXPECT_EQ(body.rfind("1\n00:00:", 0), 0u) << stem << ": " << body;
  }
}

TEST(TranscribeCli, WhisperLanguageErrors) {
  const auto wav = refdata("asr/audio/pocketsphinx_goforward.wav");
  const auto en = refdata("asr/models/ggml-micro.en-random-f16.bin");
  const auto ko = run(binary("omni") + " transcribe -m " + en + " " + wav + " -l ko", true);
  EXPECT_EQ(ko.exit_code, 1);
  EXPECT_NE(ko.out.find("English-only"), std::string::npos) << ko.out;
  const auto tr = run(binary("omni") + " transcribe -m " + en + " " + wav + " --task translate", true);
  EXPECT_EQ(tr.exit_code, 1);
  EXPECT_NE(tr.out.find("multilingual"), std::string::npos) << tr.out;
  // A multilingual model detects the language with -l auto and reports it.
  const auto multi = refdata("asr/models/ggml-micro-random-f16.bin");
  const auto det = run(binary("omni") + " transcribe -t 1 --beam 1 --no-fallback -m " + multi +
                       " " + wav + " -l auto --format json");
  ASSERT_EQ(det.exit_code, 0) << det.out;
  const auto j = nlohmann::json::parse(det.out);
  EXPECT_GT(j["language_prob"].get<double>(), 0.0);
  EXPECT_FALSE(j["language"].get<std::string>().empty());
}

}  // namespace
}  // namespace omni
