// `omni embed-image` and `omni bench vision` run as subprocesses: the JSON embeddings equal
// llama.cpp's golden, errors end with exit code 1 and a message naming the problem.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "testing/refdata.h"

namespace omni {
namespace {

using nlohmann::json;
using omni::testing::binary;
using omni::testing::read_f32;
using omni::testing::refdata;
using omni::testing::run_command;

std::string omni_cmd(const std::string& args) {
  std::string cmd = "'";
  cmd.append(binary("omni")).append("' ").append(args);
  return cmd;
}

TEST(EmbedImageCli, JsonMatchesGolden) {
  const std::string mmproj = refdata("vision/models/mmproj-tiny-smolvlm-rand-f32.gguf");
  const std::string image = refdata("vision/images/rocket.jpg");
  std::string out;
  ASSERT_EQ(run_command(omni_cmd("embed-image '" + image + "' --mmproj '" + mmproj + "' -t 2 --json"), &out), 0) << out;
  const json j = json::parse(out);
  EXPECT_EQ(j["n_tokens"], 52);
  EXPECT_EQ(j["n_embd"], 64);
  EXPECT_EQ(j["tiles"], 13);
  EXPECT_EQ(j["grid"]["cols"], 4);
  EXPECT_EQ(j["grid"]["rows"], 3);
  const auto want = read_f32(refdata("vision/golden/smolvlm-rocket/embd.f32"));
  const auto got = j["embeddings"].get<std::vector<float>>();
  ASSERT_EQ(got.size(), want.size());
  float d = 0;
  for (size_t i = 0; i < got.size(); ++i) d = std::max(d, std::fabs(got[i] - want[i]));
  EXPECT_LE(d, 5e-4f);
}

TEST(EmbedImageCli, ErrorsAreClear) {
  const std::string mmproj = refdata("vision/models/mmproj-tiny-llava15-rand-f32.gguf");
  std::string out;
  EXPECT_EQ(run_command(omni_cmd("embed-image '" + mmproj + "' --mmproj '" + mmproj + "'"), &out, true), 1);
  EXPECT_NE(out.find("not a supported image"), std::string::npos) << out;
  const std::string image = refdata("vision/images/horse.png");
  EXPECT_EQ(run_command(omni_cmd("embed-image '" + image + "' --mmproj '" + image + "'"), &out, true), 1);
  EXPECT_EQ(run_command(omni_cmd("embed-image 'data:image/png;base64,AAAA' --mmproj '" + mmproj + "'"), &out, true), 1);
  EXPECT_NE(out.find("data URL"), std::string::npos) << out;
  EXPECT_EQ(run_command(omni_cmd("embed-image '" + image + "'"), &out, true), 2);
}

TEST(BenchVisionCli, ReportsSplitTimes) {
  const std::string mmproj = refdata("vision/models/mmproj-tiny-llava15-rand-f32.gguf");
  std::string out;
  ASSERT_EQ(run_command(omni_cmd("bench vision --mmproj '" + mmproj + "' -t 1 -r 1 --json"), &out), 0) << out;
  const json j = json::parse(out);
  EXPECT_EQ(j["tiles"], 1);
  EXPECT_EQ(j["tokens"], 256);
  EXPECT_GT(j["vit_ms"].get<double>(), 0);
  EXPECT_GE(j["project_ms"].get<double>(), 0);
  EXPECT_GE(j["total_ms"].get<double>(), j["vit_ms"].get<double>());
}

}  // namespace
}  // namespace omni
