// OCR of a rendered page: our Tesseract-API path (engine kept across images, and one-shot with
// the language load) against the `tesseract` CLI on the same page written as PNG (process start,
// PNG decode, language load, recognition). Same page segmentation (single column) both ways.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
// stb's own code trips -Wnull-dereference at -O3 (a false positive in its zlib writer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "vision/ocr.h"
#include "vision/text_render_testing.h"

namespace {

using omni::testing::RgbImage;

std::vector<std::string> english_page() {
  const std::vector<std::string> base = {
      "The quick brown fox jumps over the lazy dog while the farmer watches.",
      "Pack my box with five dozen liquor jugs before the market opens at 9.",
      "Sphinx of black quartz, judge my vow; the jury returns on 12 March 2024.",
      "How vexingly quick daft zebras jump when the keeper rattles the gate!",
  };
  std::vector<std::string> page;
  for (int i = 0; i < 7; ++i) page.insert(page.end(), base.begin(), base.end());
  return page;  // 28 lines
}

std::vector<std::string> korean_page() {
  const std::vector<std::string> base = {
      "오늘 날씨가 정말 좋아서 공원에 산책을 나갔습니다",
      "한국어 문장을 정확하게 읽는 것이 이 시험의 목표입니다",
      "회의는 다음 주 화요일 오후 세 시에 시작합니다",
  };
  std::vector<std::string> page;
  for (int i = 0; i < 5; ++i) page.insert(page.end(), base.begin(), base.end());
  return page;  // 15 lines
}

const RgbImage& page(bool korean) {
  static const RgbImage eng = omni::testing::render_text(omni::testing::system_font("DejaVuSans.ttf"),
                                                         english_page(), 24);
  static const RgbImage kor = omni::testing::render_text(
      omni::testing::system_font("NotoSansCJK-Regular.ttc"), korean_page(), 28);
  return korean ? kor : eng;
}

const char* lang(bool korean) { return korean ? "kor" : "eng"; }

void BM_OcrKeptEngine(benchmark::State& state) {
  const bool korean = state.range(0) != 0;
  const RgbImage& img = page(korean);
  omni::vision::OcrOptions o;
  o.languages = lang(korean);
  omni::vision::Ocr ocr(o);
  size_t chars = 0;
  for (auto _ : state) chars = ocr.recognize(img.rgb, img.width, img.height).text.size();
  state.counters["text_bytes"] = static_cast<double>(chars);
  state.SetLabel(std::string(lang(korean)) + " " + std::to_string(img.width) + "x" + std::to_string(img.height));
}

void BM_OcrOneShot(benchmark::State& state) {
  const bool korean = state.range(0) != 0;
  const RgbImage& img = page(korean);
  for (auto _ : state) benchmark::DoNotOptimize(omni::vision::ocr(img.rgb, img.width, img.height, lang(korean)));
  state.SetLabel(lang(korean));
}

void BM_TesseractCli(benchmark::State& state) {
  const bool korean = state.range(0) != 0;
  const RgbImage& img = page(korean);
  const auto png = std::filesystem::temp_directory_path() / (std::string("omni_ocr_bench_") + lang(korean) + ".png");
  if (!stbi_write_png(png.c_str(), img.width, img.height, 3, img.rgb.data(), img.width * 3)) {
    state.SkipWithError("cannot write the page PNG");
    return;
  }
  const std::string cmd = std::string("tesseract ") + png.string() + " - -l " + lang(korean) +
                          " --psm 4 > /dev/null 2>&1";
  for (auto _ : state) {
    if (std::system(cmd.c_str()) != 0) {
      state.SkipWithError("the tesseract CLI failed (is tesseract-ocr installed?)");
      break;
    }
  }
  state.SetLabel(lang(korean));
  std::filesystem::remove(png);
}

BENCHMARK(BM_OcrKeptEngine)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OcrOneShot)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TesseractCli)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
