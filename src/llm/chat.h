// A conversation with a language model: messages rendered with the model's own chat template,
// tokenized, and continued on a Context whose KV cache keeps the conversation so far (only the
// new turn is evaluated). Models without a template (e.g. a story model) continue raw text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "llm/chat_template.h"
#include "llm/generate.h"
#include "llm/model.h"

namespace omni::llm {

class Chat {
 public:
  Chat(std::shared_ptr<const Model> model, ContextOptions ctx_options = {},
       std::string system_prompt = "");

  // True when the model carries tokenizer.chat_template.
  bool has_template() const { return !template_.empty(); }

  // Adds the user's message, generates the assistant's reply (streamed through on_text) and
  // appends it to the conversation. Without a template the message is raw text to continue.
  GenerateResult send(const std::string& user_text, const GenerateOptions& opts,
                      const OnText& on_text = {});

  // Forgets the conversation (the system prompt stays).
  void reset();

  const std::vector<ChatMessage>& messages() const { return messages_; }
  // The prompt text the next send() would evaluate, for inspection and tests.
  std::string render(bool add_generation_prompt) const;
  Context& context() { return ctx_; }

 private:
  std::vector<int32_t> tokenize(const std::string& text) const;
  std::vector<int32_t> prompt_tokens() const;  // the rendered conversation, messages literal

  std::shared_ptr<const Model> model_;
  Context ctx_;
  std::string template_;
  std::string system_;
  std::vector<ChatMessage> messages_;
  std::string raw_;  // template-less models: the running text
};

}  // namespace omni::llm
