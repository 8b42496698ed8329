// The embeddings path of an image (DESIGN §1): decode with the vision engine's loader, preprocess
// as the mmproj's family expects, run the ViT + projector. The rows go into a local LLM whose
// n_embd equals the projector's output width (LocalConversation splices them).
#pragma once

#include <memory>
#include <string>

#include "pipeline/stages.h"
#include "vision/clip_model.h"

namespace omni {
class ThreadPool;
}

namespace omni::pipeline {

class ClipImageEncoder : public ImageEncoder {
 public:
  // Loads an mmproj GGUF; throws omni::Error / FormatError naming it. `pool` may be null and must
  // outlive the encoder.
  explicit ClipImageEncoder(const std::string& mmproj_path, ThreadPool* pool = nullptr);

  std::string name() const override { return name_; }
  // Throws omni::FormatError for bytes that are not a supported image. Cancellation is checked
  // before the (uninterruptible) encode.
  ImageEmbeddings encode(const ImageInput& image, const CancelToken& cancel) override;

  // The projector's output width: the n_embd an LLM needs to take these rows.
  int n_embd_out() const { return model_->hparams().n_embd_out; }
  const vision::ClipModel& model() const { return *model_; }

 private:
  std::shared_ptr<vision::ClipModel> model_;
  ThreadPool* pool_;
  std::string name_;
};

// How an image reaches the LLM.
enum class ImageMode {
  kAuto,     // embed when a matching mmproj is loaded, otherwise OCR
  kEmbed,    // projected embeddings spliced into the prompt (needs --mmproj)
  kOcr,      // Tesseract's words, as text
  kCaption,  // a paragraph from the VLM (-m MODEL --mmproj FILE), as text
};

// "auto", "embed", "ocr", "caption"; throws omni::Error for anything else.
ImageMode parse_image_mode(const std::string& s);
const char* image_mode_name(ImageMode m);

// The mode to use: auto becomes embed when an mmproj is given and its projector width equals
// the LLM's n_embd (mmproj_n_embd = 0: none given), otherwise OCR. Throws omni::Error naming the
// widths when embed or caption is asked for without an mmproj or with a mismatched one.
ImageMode resolve_image_mode(ImageMode asked, int mmproj_n_embd, int llm_n_embd);

}  // namespace omni::pipeline
