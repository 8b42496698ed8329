#include "vision/ocr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "vision/text_render_testing.h"

namespace omni::vision {
namespace {

OcrOptions langs(const std::string& l, const std::string& dir = "") {
  OcrOptions o;
  o.languages = l;
  o.tessdata = dir;
  return o;
}

using testing::render_text;
using testing::system_font;

// Words separated by single spaces (OCR line breaks and runs of spaces normalised).
std::string words(const std::string& s) {
  std::istringstream in(s);
  std::string w, out;
  while (in >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Share of the expected characters (spaces ignored) recovered: 1 - edit distance / length.
double char_accuracy(const std::string& want, const std::string& got) {
  auto strip = [](const std::string& s) {
    std::vector<uint32_t> out;
    for (const uint32_t c : testing::utf8_codepoints(s)) {
      if (c != ' ' && c != '\n') out.push_back(c);
    }
    return out;
  };
  const auto a = strip(want), b = strip(got);
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return 1.0 - static_cast<double>(prev[b.size()]) / static_cast<double>(std::max<size_t>(a.size(), 1));
}

const std::vector<std::string> kEnglish = {
    "The quick brown fox jumps over the lazy dog.",
    "Pack my box with five dozen liquor jugs.",
    "Omni reads 12345 words from 6 images today.",
};
const std::vector<std::string> kKorean = {
    "안녕하세요 세계",
    "오늘 날씨가 정말 좋습니다",
    "한국어 문장을 정확하게 읽습니다",
};

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l;
  return s;
}

TEST(Ocr, EnglishWordsExact) {
  const auto img = render_text(system_font("DejaVuSans.ttf"), kEnglish, 32);
  Ocr ocr(langs("eng"));
  const auto r = ocr.recognize(img.rgb, img.width, img.height);
  EXPECT_EQ(words(r.text), words(joined(kEnglish))) << r.text;
  ASSERT_EQ(r.lines.size(), kEnglish.size());
  for (size_t i = 0; i < kEnglish.size(); ++i) {
    EXPECT_EQ(words(r.lines[i].text), kEnglish[i]);
    EXPECT_GT(r.lines[i].confidence, 80.0f);
  }
  EXPECT_GT(r.mean_confidence, 80.0f);
}

TEST(Ocr, KoreanCharactersAccurate) {
  for (const char* l : {"kor", "eng+kor"}) {
    Ocr ocr(langs(l));
    for (const float px : {24.0f, 40.0f, 64.0f}) {
      const auto img = render_text(system_font("NotoSansCJK-Regular.ttc"), kKorean, px);
      const auto r = ocr.recognize(img.rgb, img.width, img.height);
      const double acc = char_accuracy(joined(kKorean), r.text);
      std::printf("[ measured ] Korean %g px, %s: character accuracy %.3f\n", double{px}, l, acc);
      EXPECT_GE(acc, 0.95) << px << " px, " << l << ": " << r.text;
      EXPECT_EQ(r.lines.size(), kKorean.size()) << r.text;
    }
  }
}

TEST(Ocr, MixedEnglishAndKoreanWithDefaultLanguages) {
  const std::vector<std::string> lines = {"Seoul 서울 2024", "Hello 안녕하세요"};
  const auto img = render_text(system_font("NotoSansCJK-Regular.ttc"), lines, 40);
  const std::string text = ocr(img.rgb, img.width, img.height);  // eng+kor
  const double acc = char_accuracy(joined(lines), text);
  std::printf("[ measured ] mixed character accuracy %.3f: %s\n", acc, text.c_str());
  EXPECT_GE(acc, 0.9) << text;
  EXPECT_NE(text.find("Seoul"), std::string::npos) << text;
}

TEST(Ocr, Layouts) {
  EXPECT_EQ(parse_ocr_layout("auto"), OcrLayout::kAuto);
  EXPECT_EQ(parse_ocr_layout("sparse"), OcrLayout::kSparse);
  EXPECT_THROW(parse_ocr_layout("columns"), Error);
  // The English page reads the same in every layout.
  const auto img = render_text(system_font("DejaVuSans.ttf"), kEnglish, 32);
  for (const auto layout : {OcrLayout::kAuto, OcrLayout::kBlock}) {
    OcrOptions o = langs("eng");
    o.layout = layout;
    Ocr ocr(o);
    EXPECT_EQ(words(ocr.recognize(img.rgb, img.width, img.height).text), words(joined(kEnglish)));
  }
}

TEST(Ocr, BlankImageGivesNoText) {
  std::vector<uint8_t> white(200 * 100 * 3, 255);
  Ocr ocr(langs("eng"));
  const auto r = ocr.recognize(white, 200, 100);
  EXPECT_EQ(words(r.text), "");
  EXPECT_TRUE(r.lines.empty());
}

TEST(Ocr, BadInputsAreClearErrors) {
  Ocr ocr(langs("eng"));
  std::vector<uint8_t> px(10 * 10 * 3, 255);
  EXPECT_THROW(ocr.recognize(px, 10, 11), Error);
  EXPECT_THROW(ocr.recognize(px, 0, 10), Error);
  EXPECT_THROW(ocr.recognize(px, 20000, 20000), Error);
  EXPECT_THROW(Ocr(langs("../eng")), Error);
  EXPECT_THROW(Ocr(langs("eng+")), Error);
  try {
    Ocr bad(langs("zzz"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("zzz"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Ocr(langs("eng", "/nonexistent")), Error);
}

TEST(Ocr, TessdataFolderOverrides) {
  const std::string sys = find_tessdata("eng+kor");
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(sys) / "kor.traineddata"));
  // An explicit folder wins; TESSDATA_PREFIX (the folder or its parent) is honoured.
  EXPECT_EQ(find_tessdata("eng", sys), sys);
  const char* old = std::getenv("TESSDATA_PREFIX");
  const std::string saved = old ? old : "";
  ::setenv("TESSDATA_PREFIX", sys.c_str(), 1);
  EXPECT_EQ(find_tessdata("eng"), sys);
  ::setenv("TESSDATA_PREFIX", std::filesystem::path(sys).parent_path().c_str(), 1);
  EXPECT_EQ(find_tessdata("eng"), sys);  // <prefix>/tessdata
  if (old) {
    ::setenv("TESSDATA_PREFIX", saved.c_str(), 1);
  } else {
    ::unsetenv("TESSDATA_PREFIX");
  }
}

}  // namespace
}  // namespace omni::vision
