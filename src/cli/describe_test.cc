// `omni describe` as a subprocess on an image rendered from known text.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
// stb's own code trips -Wnull-dereference at -O3 (a false positive in its zlib writer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/refdata.h"
#include "vision/text_render_testing.h"

namespace omni {
namespace {

using testing::binary;
using testing::run_command;

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("omni_describe_test_" + name)).string();
}

std::string words(const std::string& s) {
  std::istringstream in(s);
  std::string w, out;
  while (in >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

TEST(DescribeCli, OcrTextAndJson) {
  const auto img = testing::render_text(testing::system_font("NotoSansCJK-Regular.ttc"),
                                        {"Invoice 2024-07", "합계 금액 15000 원"}, 40);
  const std::string png = tmp("page.png");
  ASSERT_TRUE(stbi_write_png(png.c_str(), img.width, img.height, 3, img.rgb.data(), img.width * 3));
  std::string out;
  ASSERT_EQ(run_command(binary("omni") + " describe " + png + " --mode ocr", &out), 0) << out;
  EXPECT_EQ(words(out), "Invoice 2024-07 합계 금액 15000 원") << out;
  ASSERT_EQ(run_command(binary("omni") + " describe " + png + " --lang eng --json", &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["mode"], "ocr");
  ASSERT_EQ(j["lines"].size(), 2u);
  EXPECT_EQ(words(j["lines"][0]["text"].get<std::string>()), "Invoice 2024-07");
  EXPECT_GT(j["lines"][0]["confidence"].get<double>(), 80);
  std::filesystem::remove(png);
}

TEST(DescribeCli, ErrorsAreClear) {
  std::string out;
  // Caption mode says what it needs.
  EXPECT_EQ(run_command(binary("omni") + " describe x.png --mode caption", &out, true), 1);
  EXPECT_NE(out.find("caption mode needs -m MODEL --mmproj FILE"), std::string::npos) << out;
  // Not an image / no file.
  const std::string txt = tmp("not_image.png");
  std::ofstream(txt) << "hello, not a picture";
  EXPECT_EQ(run_command(binary("omni") + " describe " + txt, &out, true), 1);
  EXPECT_NE(out.find("not a readable image"), std::string::npos) << out;
  EXPECT_EQ(run_command(binary("omni") + " describe " + tmp("missing.png"), &out, true), 1);
  std::filesystem::remove(txt);
  // A language without traineddata names itself.
  const auto img = testing::render_text(testing::system_font("DejaVuSans.ttf"), {"x"}, 20);
  const std::string png = tmp("x.png");
  ASSERT_TRUE(stbi_write_png(png.c_str(), img.width, img.height, 3, img.rgb.data(), img.width * 3));
  EXPECT_EQ(run_command(binary("omni") + " describe " + png + " --lang zzz", &out, true), 1);
  EXPECT_NE(out.find("zzz"), std::string::npos) << out;
  EXPECT_EQ(run_command(binary("omni") + " describe " + png + " --layout rows", &out, true), 2);
  std::filesystem::remove(png);
}

}  // namespace
}  // namespace omni
