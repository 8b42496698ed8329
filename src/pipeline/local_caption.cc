#include "pipeline/local_caption.h"

#include <algorithm>

#include "pipeline/text_util.h"

namespace omni::pipeline {

CaptionImageReader::CaptionImageReader(std::shared_ptr<const llm::Model> model,
                                       std::string model_name, ImageEncoder& encoder,
                                       llm::ContextOptions ctx_options, int max_tokens)
    : model_(std::move(model)),
      model_name_(std::move(model_name)),
      encoder_(encoder),
      ctx_options_(ctx_options),
      max_tokens_(max_tokens) {}

ImageText CaptionImageReader::describe(const ImageInput& image, const CancelToken& cancel) {
  ImageText out;
  out.kind = "caption";
  auto e = std::make_shared<ImageEmbeddings>(encoder_.encode(image, cancel));
  if (e->cancelled || cancel.cancelled()) {
    out.cancelled = true;
    return out;
  }
  // Unless a size is given, the context fits the image, the question and the answer even when the
  // model's trained context is shorter (llama.cpp likewise only warns past it).
  llm::ContextOptions co = ctx_options_;
  if (co.n_ctx == 0) {
    const uint32_t need = static_cast<uint32_t>(e->n_tokens) + 128 + static_cast<uint32_t>(max_tokens_);
    co.n_ctx = std::max(std::min(model_->config().n_ctx_train, 4096u), need);
  }
  LocalConversation conv(model_, model_name_, co, "");
  UserMessage m;
  m.parts.push_back(MessagePart{"", std::make_shared<const ImageInput>(image), e});
  m.parts.push_back(MessagePart{std::string("\n") + kCaptionPrompt, nullptr, nullptr});
  conv.add_user(m);
  GenOptions g;
  g.max_tokens = max_tokens_;
  g.temperature = 0;
  last_ = conv.generate(g, cancel);
  out.text = trim(last_.text);
  out.cancelled = last_.finish_reason == "cancelled";
  return out;
}

}  // namespace omni::pipeline
