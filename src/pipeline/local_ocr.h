// The words path of an image (DESIGN §1): decode with the vision engine's loader, read the text
// with Tesseract. Works with any text LLM, local or remote, and needs no model download.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "pipeline/stages.h"
#include "vision/ocr.h"

namespace omni::pipeline {

class OcrImageReader : public ImageReader {
 public:
  // languages: Tesseract's "eng+kor" form. Throws omni::Error when traineddata is missing.
  explicit OcrImageReader(const std::string& languages = "eng+kor");

  std::string name() const override { return "ocr:" + languages_; }
  // Throws omni::FormatError for bytes that are not a supported image.
  ImageText describe(const ImageInput& image, const CancelToken& cancel) override;

 private:
  std::string languages_;
  std::mutex mu_;  // one Tesseract instance, not thread-safe
  std::unique_ptr<vision::Ocr> ocr_;
};

}  // namespace omni::pipeline
