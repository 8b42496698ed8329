#include "pipeline/models.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/refdata.h"

namespace omni::pipeline {
namespace {
namespace fs = std::filesystem;

TEST(Models, KindsFromTheBytesAndStageUse) {
  const fs::path dir = fs::temp_directory_path() / "omni_models_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto copy = [&](const std::string& rel, const std::string& as) {
    fs::copy_file(testing::refdata(rel), dir / as);
  };
  copy("llm/models/stories260K.gguf", "stories260K.gguf");
  copy("vision/models/mmproj-tiny-llava15-rand-f32.gguf", "mmproj.gguf");
  copy("asr/models/ggml-micro.en-random-f16.bin", "ggml-micro.en.bin");
  copy("tts/models/tiny.onnx", "tiny.onnx");
  copy("tts/models/tiny.onnx.json", "tiny.onnx.json");
  {
    std::ofstream(dir / "junk.bin") << "not a model at all";
    std::ofstream(dir / "half.gguf.part") << "GGUF";
    std::ofstream(dir / "lonely.onnx") << "x";
  }
  Config c;
  c.set_flag("llm.model", (dir / "stories260K.gguf").string());
  c.set_flag("asr.model", "ggml-micro.en.bin");
  c.set_flag("tts.voice", "tiny");
  const auto ms = list_installed(dir.string(), c);
  std::map<std::string, InstalledModel> by;
  for (const auto& m : ms) by[m.name] = m;
  ASSERT_EQ(ms.size(), 6u);  // the .part and the .onnx.json are not listed
  EXPECT_EQ(by["stories260K.gguf"].kind, "llm");
  EXPECT_NE(by["stories260K.gguf"].detail.find("GGUF llama"), std::string::npos) << by["stories260K.gguf"].detail;
  EXPECT_EQ(by["stories260K.gguf"].used_by, std::vector<std::string>{"llm.model"});
  EXPECT_EQ(by["mmproj.gguf"].kind, "mmproj");
  EXPECT_TRUE(by["mmproj.gguf"].used_by.empty());
  EXPECT_EQ(by["ggml-micro.en.bin"].kind, "asr");
  EXPECT_EQ(by["ggml-micro.en.bin"].used_by, std::vector<std::string>{"asr.model"});
  EXPECT_EQ(by["tiny.onnx"].kind, "tts");
  EXPECT_NE(by["tiny.onnx"].detail.find("Piper voice"), std::string::npos);
  EXPECT_EQ(by["tiny.onnx"].size, fs::file_size(dir / "tiny.onnx") + fs::file_size(dir / "tiny.onnx.json"));
  EXPECT_EQ(by["tiny.onnx"].used_by, std::vector<std::string>{"tts.voice"});
  EXPECT_EQ(by["junk.bin"].kind, "unknown");
  EXPECT_NE(by["junk.bin"].detail.find("magic"), std::string::npos) << by["junk.bin"].detail;
  EXPECT_EQ(by["lonely.onnx"].kind, "unknown");

  std::string out;
  ASSERT_EQ(testing::run_command(testing::binary("omni") + " models --json --dir " + dir.string() +
                                     " --set asr.model=ggml-micro.en.bin", &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["models"].size(), 6u);
  EXPECT_EQ(j["models"][0]["name"], "ggml-micro.en.bin");
  EXPECT_EQ(j["models"][0]["used_by"][0], "asr.model");
  EXPECT_TRUE(list_installed((dir / "none").string(), c).empty());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace omni::pipeline
