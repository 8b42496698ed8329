// The caption variant of the words path: a vision-language model (an LLM plus its mmproj) is
// asked "Describe this image in one paragraph." with the image spliced in as embeddings, and its
// greedy answer is the image's text. Any LLM, even a text-only or remote one, can then read it.
#pragma once

#include <memory>
#include <string>

#include "llm/model.h"
#include "pipeline/local_llm.h"
#include "pipeline/stages.h"

namespace omni::pipeline {

inline constexpr const char* kCaptionPrompt = "Describe this image in one paragraph.";

class CaptionImageReader : public ImageReader {
 public:
  // `encoder` must project to the model's n_embd and outlive the reader. ctx_options.n_ctx = 0:
  // the model's context, grown to fit the image rows + question + max_tokens.
  CaptionImageReader(std::shared_ptr<const llm::Model> model, std::string model_name,
                     ImageEncoder& encoder, llm::ContextOptions ctx_options = {},
                     int max_tokens = 128);

  std::string name() const override { return "caption:" + model_name_; }
  // A fresh conversation per image: the user message is the image, then "\n" + kCaptionPrompt
  // (the image first, as LLaVA/SmolVLM were trained); greedy decoding.
  ImageText describe(const ImageInput& image, const CancelToken& cancel) override;
  // Token counts of the last describe(), for reports.
  const Reply& last_reply() const { return last_; }

 private:
  std::shared_ptr<const llm::Model> model_;
  std::string model_name_;
  ImageEncoder& encoder_;
  llm::ContextOptions ctx_options_;
  int max_tokens_;
  Reply last_;
};

}  // namespace omni::pipeline
