#include "pipeline/local_ocr.h"

#include "vision/image.h"

namespace omni::pipeline {

OcrImageReader::OcrImageReader(const std::string& languages)
    : languages_(languages) {
  vision::OcrOptions o;
  o.languages = languages;
  ocr_ = std::make_unique<vision::Ocr>(o);
}

ImageText OcrImageReader::describe(const ImageInput& image, const CancelToken& cancel) {
  ImageText t;
  t.kind = "ocr";
  if (cancel.cancelled()) {
    t.cancelled = true;
    return t;
  }
  const vision::Image img =
      vision::decode_image(image.bytes, {}, image.source.empty() ? "image" : image.source);
  std::lock_guard lock(mu_);
  t.text = ocr_->recognize(img.rgb, img.width, img.height).text;
  // Tesseract ends pages with blank lines; the prompt wants the words only.
  while (!t.text.empty() && (t.text.back() == '\n' || t.text.back() == ' ')) t.text.pop_back();
  t.cancelled = cancel.cancelled();
  return t;
}

}  // namespace omni::pipeline
