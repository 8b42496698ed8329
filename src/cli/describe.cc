// `omni describe IMAGE --mode ocr [--lang eng+kor] [--layout column] [--json]`: image to words.
// OCR mode prints the text Tesseract reads in the image; --json prints
// {"mode":"ocr","text":...,"lines":[{"text","confidence"}],"confidence"}.
// Caption mode (a paragraph from a vision-language model) needs the image encoder and a VLM; it
// reports that it needs -m MODEL --mmproj FILE until the pipeline wires them in.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "vision/ocr.h"

namespace omni::cli {
namespace {

struct DescribeArgs {
  std::string image;
  std::string mode = "ocr";
  std::string lang = "eng+kor";
  std::string layout = "column";
  std::string tessdata;
  std::string model, mmproj;
  bool json = false;
};

struct Rgb {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

// Decodes PNG/JPEG/BMP/GIF (first frame) to RGB with stb_image, refusing images over 100
// megapixels before any pixel is allocated. A stand-in until the vision module's image loader
// (EXIF orientation, WebP, data URLs) is on main.
Rgb load_rgb(const std::string& path) {
  int w = 0, h = 0, n = 0;
  if (!stbi_info(path.c_str(), &w, &h, &n)) {
    throw Error(path + ": not a readable image (" + stbi_failure_reason() + ")");
  }
  if (w <= 0 || h <= 0 || int64_t{w} * h > 100'000'000) {
    throw Error(path + ": image size " + std::to_string(w) + "x" + std::to_string(h) +
                " is over the 100 megapixel limit");
  }
  std::unique_ptr<stbi_uc, void (*)(void*)> data(stbi_load(path.c_str(), &w, &h, &n, 3), stbi_image_free);
  if (!data) throw Error(path + ": cannot decode the image (" + stbi_failure_reason() + ")");
  Rgb img;
  img.width = w;
  img.height = h;
  img.pixels.assign(data.get(), data.get() + size_t(w) * size_t(h) * 3);
  return img;
}

void run(const DescribeArgs& a) {
  if (a.mode == "caption") {
    throw Error("caption mode needs -m MODEL --mmproj FILE and is not wired to the vision encoder "
                "yet; use --mode ocr for the text in the image");
  }
  vision::OcrOptions o;
  o.languages = a.lang;
  o.tessdata = a.tessdata;
  o.layout = vision::parse_ocr_layout(a.layout);
  const Rgb img = load_rgb(a.image);
  vision::Ocr ocr(o);
  const vision::OcrResult r = ocr.recognize(img.pixels, img.width, img.height);
  if (a.json) {
    nlohmann::json j;
    j["mode"] = "ocr";
    j["text"] = r.text;
    j["confidence"] = r.mean_confidence;
    j["lines"] = nlohmann::json::array();
    for (const auto& l : r.lines) j["lines"].push_back({{"text", l.text}, {"confidence", l.confidence}});
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("%s\n", r.text.c_str());
  }
}

const RegisterCommand kRegister([](CLI::App& app) {
  auto args = std::make_shared<DescribeArgs>();
  CLI::App* cmd = app.add_subcommand("describe", "Image to words (OCR; captions need a VLM)");
  cmd->add_option("image", args->image, "Image file (PNG, JPEG, BMP, GIF)")->required();
  cmd->add_option("--mode", args->mode, "ocr: the text in the image; caption: needs -m and --mmproj")
      ->check(CLI::IsMember({"ocr", "caption"}));
  cmd->add_option("--lang", args->lang, "OCR languages, Tesseract codes joined by + (default eng+kor)");
  cmd->add_option("--layout", args->layout, "OCR page layout: column (default), auto, block, sparse")
      ->check(CLI::IsMember({"column", "auto", "block", "sparse"}));
  cmd->add_option("--tessdata", args->tessdata,
                  "Folder with <lang>.traineddata (default: $TESSDATA_PREFIX, then system folders)");
  cmd->add_option("-m,--model", args->model, "Vision-language model GGUF (caption mode)");
  cmd->add_option("--mmproj", args->mmproj, "Image projector GGUF (caption mode)");
  cmd->add_flag("--json", args->json, "Print JSON {mode, text, confidence, lines:[{text, confidence}]}");
  cmd->callback([args] { run(*args); });
});

}  // namespace
}  // namespace omni::cli
