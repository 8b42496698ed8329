// The image modes of `omni describe`, `omni run` and `omni chat` as subprocesses, on the tiny
// random-weight VLMs of ../shared/refdata/vision (their text is gibberish; what is checked is the
// mechanism: the mode chosen, the rows spliced, the tokens equal to the library's own run).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <vector>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "llm/model.h"
#include "pipeline/local_caption.h"
#include "pipeline/local_image_encoder.h"
#include "testing/refdata.h"

namespace omni {
namespace {

using testing::binary;
using testing::refdata;
using testing::run_command;

const std::string kSmolLlm = "vision/models/tiny-smolvlm-text-rand-f32.gguf";
const std::string kSmolProj = "vision/models/mmproj-tiny-smolvlm-rand-f32.gguf";
const std::string kLlavaLlm = "llm/models/tiny-llama-rand-f32.gguf";
const std::string kLlavaProj = "vision/models/mmproj-tiny-llava15-rand-f32.gguf";

TEST(ImageModesCli, DescribeCaptionEqualsTheCaptionStage) {
  const std::string img = refdata("vision/images/horse.png");
  std::string out;
  ASSERT_EQ(run_command(binary("omni") + " describe " + img + " --mode caption -m " + refdata(kLlavaLlm) +
                            " --mmproj " + refdata(kLlavaProj) + " -n 6 -t 1 --json",
                        &out),
            0)
      << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["mode"], "caption");
  EXPECT_EQ(j["generated_tokens"], 6);

  pipeline::ClipImageEncoder enc(refdata(kLlavaProj));
  pipeline::CaptionImageReader reader(llm::Model::load(refdata(kLlavaLlm)), "tiny", enc, {}, 6);
  const auto t = reader.describe(pipeline::ImageInput::from_file(img), pipeline::CancelToken());
  EXPECT_EQ(j["text"], t.text);
  EXPECT_EQ(j["prompt_tokens"], reader.last_reply().stats.prompt_tokens);

  // auto with a fitting pair is caption too; without -m it is OCR.
  ASSERT_EQ(run_command(binary("omni") + " describe " + img + " --image-mode auto -m " + refdata(kLlavaLlm) +
                            " --mmproj " + refdata(kLlavaProj) + " -n 6 -t 1 --json",
                        &out),
            0);
  EXPECT_EQ(nlohmann::json::parse(out)["text"], t.text);
  ASSERT_EQ(run_command(binary("omni") + " describe " + img + " --mode auto --lang eng --json", &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["mode"], "ocr");

  EXPECT_EQ(run_command(binary("omni") + " describe " + img + " --mode caption", &out, true), 1);
  EXPECT_NE(out.find("-m MODEL --mmproj FILE"), std::string::npos) << out;
  // A projector for another width: the error names both.
  EXPECT_EQ(run_command(binary("omni") + " describe " + img + " --mode caption -m " +
                            refdata("llm/models/tiny-qwen2-rand-f32.gguf") + " --mmproj " + refdata(kLlavaProj),
                        &out, true),
            1);
  EXPECT_NE(out.find("n_embd is 32"), std::string::npos) << out;
}

TEST(ImageModesCli, RunEmbedsWithAnMmprojAndExplainsWhatIsMissing) {
  const std::string img = refdata("vision/images/rocket.jpg");
  std::string out;
  ASSERT_EQ(run_command(binary("omni") + " run -m " + refdata(kSmolLlm) + " --mmproj " + refdata(kSmolProj) +
                            " --image " + img + " --text 'Describe this image.' --no-speech -n 4 -t 1 --json",
                        &out),
            0)
      << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["image_mode"], "embed");
  EXPECT_EQ(j["image_tokens"], 52);
  EXPECT_GT(j["timings"]["tokens"]["prompt"].get<int>(), 52);

  // --image-mode ocr with the same files reads words instead.
  ASSERT_EQ(run_command(binary("omni") + " run -m " + refdata(kSmolLlm) + " --mmproj " + refdata(kSmolProj) +
                            " --image-mode ocr --ocr-languages eng --image " + img +
                            " --text hi --no-speech -n 2 -t 1 --json",
                        &out),
            0)
      << out;
  EXPECT_EQ(nlohmann::json::parse(out)["image_mode"], "ocr");

  EXPECT_EQ(run_command(binary("omni") + " run -m " + refdata(kSmolLlm) + " --image-mode embed --image " + img +
                            " --text hi --no-speech",
                        &out, true),
            1);
  EXPECT_NE(out.find("--mmproj"), std::string::npos) << out;
  EXPECT_EQ(run_command(binary("omni") + " run -m " + refdata("llm/models/tiny-qwen2-rand-f32.gguf") +
                            " --mmproj " + refdata(kSmolProj) + " --image-mode embed --image " + img +
                            " --text hi --no-speech",
                        &out, true),
            1);
  EXPECT_NE(out.find("projects to 64"), std::string::npos) << out;
}

TEST(ImageModesCli, ChatImageThenTextReusesTheImageInTheCache) {
  const auto in = (std::filesystem::temp_directory_path() / "omni_image_modes_chat.txt").string();
  {
    std::ofstream f(in);
    f << "/image " << refdata("vision/images/horse.png") << " Describe this image.\nAnd?\n";
  }
  std::string out;
  ASSERT_EQ(run_command(binary("omni") + " chat -m " + refdata(kSmolLlm) + " --mmproj " + refdata(kSmolProj) +
                            " --temp 0 -n 3 -t 1 < " + in,
                        &out, true),
            0)
      << out;
  std::filesystem::remove(in);
  // Turn 1: everything new (BOS + 68 image rows + 16 tiles' and the global image's tokens + text);
  // turn 2: the first turn (and its answer) comes from the cache.
  std::vector<std::array<int, 3>> turns;  // generated, new, cached
  // Lines "[N tokens; prompt A new + B cached ...]" (no std::regex: GCC 12 at -O1 with the
  // sanitizers warns inside <regex>).
  for (size_t pos = 0; (pos = out.find("[", pos)) != std::string::npos; ++pos) {
    int g = 0, a = 0, b = 0;
    if (std::sscanf(out.c_str() + pos, "[%d tokens; prompt %d new + %d cached", &g, &a, &b) == 3) {
      turns.push_back({g, a, b});
    }
  }
  ASSERT_EQ(turns.size(), 2u) << out;
  const int new1 = turns[0][1], cached1 = turns[0][2], new2 = turns[1][1], cached2 = turns[1][2];
  EXPECT_EQ(cached1, 0);
  EXPECT_GT(new1, 68 + 16 * 2);
  // All of turn 1 but its last text token or two (raw text re-tokenizes where the answer joins).
  EXPECT_GE(cached2, new1 - 2);
  EXPECT_LT(new2, 20);
}

}  // namespace
}  // namespace omni
