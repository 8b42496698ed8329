#include "pipeline/local_image_encoder.h"

#include <filesystem>

#include "core/error.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace omni::pipeline {

ClipImageEncoder::ClipImageEncoder(const std::string& mmproj_path, ThreadPool* pool)
    : model_(vision::ClipModel::load(mmproj_path)),
      pool_(pool),
      name_("mmproj:" + std::filesystem::path(mmproj_path).filename().string()) {}

ImageEmbeddings ClipImageEncoder::encode(const ImageInput& image, const CancelToken& cancel) {
  ImageEmbeddings out;
  if (cancel.cancelled()) {
    out.cancelled = true;
    return out;
  }
  const vision::Image img = vision::decode_image(image.bytes, {}, image.source.empty() ? "image" : image.source);
  const vision::VisionInput in = vision::preprocess(img, model_->preprocess_config());
  if (cancel.cancelled()) {
    out.cancelled = true;
    return out;
  }
  vision::ImageEmbeddings e = model_->encode(in, pool_);
  out.n_tokens = e.n_tokens;
  out.n_embd = e.n_embd;
  out.data = std::move(e.data);
  out.projector = model_->hparams().projector == vision::ProjectorType::kIdefics3 ? "idefics3" : "mlp";
  out.grid_cols = in.grid_cols;
  out.grid_rows = in.grid_rows;
  out.tokens_per_tile = e.tokens_per_tile.empty() ? 0 : e.tokens_per_tile.front();
  return out;
}

ImageMode parse_image_mode(const std::string& s) {
  if (s == "auto") return ImageMode::kAuto;
  if (s == "embed") return ImageMode::kEmbed;
  if (s == "ocr") return ImageMode::kOcr;
  if (s == "caption") return ImageMode::kCaption;
  throw Error("image mode '" + s + "': expected embed, ocr, caption or auto");
}

const char* image_mode_name(ImageMode m) {
  switch (m) {
    case ImageMode::kAuto: return "auto";
    case ImageMode::kEmbed: return "embed";
    case ImageMode::kOcr: return "ocr";
    case ImageMode::kCaption: return "caption";
  }
  return "?";
}

ImageMode resolve_image_mode(ImageMode asked, int mmproj_n_embd, int llm_n_embd) {
  const bool matches = mmproj_n_embd > 0 && mmproj_n_embd == llm_n_embd;
  if (asked == ImageMode::kAuto) return matches ? ImageMode::kEmbed : ImageMode::kOcr;
  if (asked == ImageMode::kEmbed || asked == ImageMode::kCaption) {
    const std::string what = std::string("image mode ") + image_mode_name(asked);
    if (mmproj_n_embd <= 0) {
      throw Error(what + " needs the model's image projector: give --mmproj FILE (or use "
                         "--image-mode ocr for the words in the image)");
    }
    if (!matches) {
      throw Error(what + ": the mmproj projects to " + std::to_string(mmproj_n_embd) +
                  " values per image token but the language model's n_embd is " +
                  std::to_string(llm_n_embd) + "; give the mmproj made for this model");
    }
  }
  return asked;
}

}  // namespace omni::pipeline
