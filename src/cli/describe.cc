// `omni describe IMAGE [--mode ocr|caption|auto] [--lang eng+kor] [--layout column]
//  [-m MODEL --mmproj FILE] [--json]`: image to words.
// OCR mode prints the text Tesseract reads in the image; --json prints
// {"mode":"ocr","text":...,"lines":[{"text","confidence"}],"confidence"}.
// Caption mode asks the vision-language model (-m MODEL with its --mmproj) "Describe this image
// in one paragraph." with the image spliced in as embeddings and prints its greedy answer; --json
// prints {"mode":"caption","text":...,"prompt_tokens":N,"generated_tokens":N}. auto: caption
// when -m and a matching --mmproj are given, else OCR. (--image-mode is the same option.)
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
#include "core/thread_pool.h"
#include "llm/model.h"
#include "pipeline/local_caption.h"
#include "pipeline/local_image_encoder.h"
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
  int max_tokens = 128;
  int threads = 0;
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

void caption(const DescribeArgs& a) {
  ThreadPool pool(a.threads);
  const auto model = llm::Model::load(a.model);
  pipeline::ClipImageEncoder encoder(a.mmproj, &pool);
  pipeline::resolve_image_mode(pipeline::ImageMode::kCaption, encoder.n_embd_out(),
                               static_cast<int>(model->config().n_embd));
  pipeline::CaptionImageReader reader(model, a.model, encoder, {.pool = &pool}, a.max_tokens);
  const pipeline::ImageText t =
      reader.describe(pipeline::ImageInput::from_file(a.image), pipeline::CancelToken());
  if (a.json) {
    nlohmann::ordered_json j;
    j["mode"] = "caption";
    j["text"] = t.text;
    j["prompt_tokens"] = reader.last_reply().stats.prompt_tokens;
    j["generated_tokens"] = reader.last_reply().stats.generated_tokens;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::printf("%s\n", t.text.c_str());
  }
}

void run(const DescribeArgs& a) {
  std::string mode = a.mode;
  if (mode == "embed") {
    throw Error("describe prints words (ocr or caption); for the embeddings use omni embed-image");
  }
  if (mode == "caption" && (a.model.empty() || a.mmproj.empty())) {
    throw Error("caption mode needs -m MODEL --mmproj FILE (the vision-language model and its projector)");
  }
  if (mode == "auto") {
    mode = "ocr";
    if (!a.model.empty() && !a.mmproj.empty()) {
      // Caption only when the projector fits the model; otherwise the words are OCR's.
      const auto m = llm::Model::load(a.model);
      const auto clip = vision::ClipModel::load(a.mmproj);
      if (clip->hparams().n_embd_out == static_cast<int>(m->config().n_embd)) mode = "caption";
    }
  }
  if (mode == "caption") return caption(a);
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
  CLI::App* cmd = app.add_subcommand("describe", "Image to words (OCR, or a caption from a VLM)");
  cmd->add_option("image", args->image, "Image file (PNG, JPEG, BMP, GIF)")->required();
  cmd->add_option("--mode,--image-mode", args->mode,
                  "ocr: the text in the image; caption: a paragraph from -m MODEL with --mmproj; "
                  "auto: caption when they match, else ocr")
      ->check(CLI::IsMember({"ocr", "caption", "auto", "embed"}));
  cmd->add_option("--lang,--ocr-languages", args->lang,
                  "OCR languages, Tesseract codes joined by + (default eng+kor)");
  cmd->add_option("-n,--n-predict", args->max_tokens, "caption: max tokens (default 128)");
  cmd->add_option("-t,--threads", args->threads, "caption: threads (default: all cores)");
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
