// Conversations on a local GGUF model with our LLM engine. The conversation is rendered with the
// model's chat template (template-less models such as story models continue raw text) and kept
// in one Context, so each turn evaluates only what is new; prefill() evaluates a partial user
// message while the user is still speaking, and the next generate() reuses that KV prefix.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "llm/chat_template.h"
#include "llm/generate.h"
#include "llm/media_prompt.h"
#include "llm/model.h"
#include "pipeline/stages.h"

namespace omni::pipeline {

class LocalLanguageModel : public LanguageModel {
 public:
  // Throws omni::Error / FormatError for a bad model file.
  LocalLanguageModel(const std::string& path, llm::ContextOptions ctx_options = {});
  LocalLanguageModel(std::shared_ptr<const llm::Model> model, std::string name,
                     llm::ContextOptions ctx_options = {});

  std::string name() const override { return name_; }
  std::unique_ptr<TextGenerator> start_conversation(const std::string& system_prompt) override;
  const std::shared_ptr<const llm::Model>& model() const { return model_; }

 private:
  std::shared_ptr<const llm::Model> model_;
  std::string name_;
  llm::ContextOptions ctx_options_;
};

class LocalConversation : public TextGenerator {
 public:
  LocalConversation(std::shared_ptr<const llm::Model> model, std::string name,
                    llm::ContextOptions ctx_options, std::string system_prompt);

  std::string name() const override { return name_; }
  void add_user(const UserMessage& message) override;
  Reply generate(const GenOptions& options, const CancelToken& cancel,
                 const OnText& on_text = {}) override;
  int prefill(std::string_view pending_user_text, const CancelToken& cancel) override;
  void reset() override;
  // Images whose parts carry embeddings (from an ImageEncoder whose projector width equals this
  // model's n_embd) are spliced into the prompt where they stand in the message, with the
  // family's image tokens (llm/media_prompt.h). Text parts are joined with "\n"; an image part
  // sits directly between its neighbours (so "USER: " + image + "\nWhat is it?" is LLaVA's
  // layout). The KV cache is reused across turns up to the first changed position.
  bool supports_images() const override { return true; }
  std::unique_ptr<ConversationSnapshot> snapshot() const override;
  void restore(const ConversationSnapshot& snapshot) override;

  bool has_template() const { return !template_.empty(); }
  const std::vector<llm::ChatMessage>& messages() const { return messages_; }
  // Tokens currently in the KV cache.
  size_t cached_tokens() const { return ctx_.n_past(); }

 private:
  // The prompt for `messages` (+ generation prompt when asked), or the raw text.
  std::string render(const std::vector<llm::ChatMessage>& messages, bool add_generation_prompt) const;
  std::vector<int32_t> tokenize(const std::string& text) const;
  llm::Prompt media_prompt(const std::string& text) const;  // text with markers + images_

  std::shared_ptr<const llm::Model> model_;
  std::string name_;
  llm::Context ctx_;
  std::string template_;
  std::string system_;
  std::vector<llm::ChatMessage> messages_;
  std::string raw_;  // template-less models: the running text
  bool pending_user_ = false;
  // Images of the conversation in order; each stands at one kMediaMarker in the rendered text.
  std::vector<llm::ImageEmbeddings> images_;
  llm::ImageLayout layout_ = llm::ImageLayout::kPlain;
};

}  // namespace omni::pipeline
