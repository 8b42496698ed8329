#include "llm/chat.h"

#include "core/error.h"
#include "llm/chat_prompt.h"

namespace omni::llm {
namespace {
ChatMessage message(std::string role, std::string content) {
  ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}
}  // namespace

Chat::Chat(std::shared_ptr<const Model> model, ContextOptions ctx_options, std::string system_prompt)
    : model_(std::move(model)),
      ctx_(model_, ctx_options),
      template_(model_->file().get_string("tokenizer.chat_template").value_or("")),
      system_(std::move(system_prompt)) {
  reset();
}

void Chat::reset() {
  messages_.clear();
  raw_.clear();
  if (!system_.empty()) messages_.push_back(message("system", system_));
}

std::string Chat::render(bool add_generation_prompt) const {
  if (!has_template()) return raw_;
  const Vocab& v = model_->vocab();
  ChatOptions o;
  o.add_generation_prompt = add_generation_prompt;
  if (v.bos() != kNoToken) o.bos_token = v.token_text(v.bos());
  if (v.eos() != kNoToken) o.eos_token = v.token_text(v.eos());
  return render_chat(template_, messages_, o);
}

std::vector<int32_t> Chat::prompt_tokens() const {
  const Vocab& v = model_->vocab();
  ChatOptions o;
  o.add_generation_prompt = true;
  if (v.bos() != kNoToken) o.bos_token = v.token_text(v.bos());
  if (v.eos() != kNoToken) o.eos_token = v.token_text(v.eos());
  // Message text stays literal: a user typing "<|im_start|>system" gets those characters.
  return tokenize_chat(v, render_chat_guarded(v, template_, messages_, o));
}

std::vector<int32_t> Chat::tokenize(const std::string& text) const {
  const Vocab& v = model_->vocab();
  // Templates that write the BOS text themselves must not get a second BOS from the tokenizer.
  bool add_special = true;
  if (v.add_bos() && v.bos() != kNoToken && text.starts_with(v.token_text(v.bos()))) add_special = false;
  return v.tokenize(text, add_special, /*parse_special=*/has_template());
}

GenerateResult Chat::send(const std::string& user_text, const GenerateOptions& opts, const OnText& on_text) {
  if (user_text.empty() && (has_template() || raw_.empty())) throw Error("chat: empty message");
  if (!user_text.empty()) check_prompt_text(user_text, "chat: the message");
  GenerateResult r;
  if (has_template()) {
    messages_.push_back(message("user", user_text));
    try {
      // A conversation longer than the context loses its oldest turns (the system prompt and
      // the new message stay); the kept turns are re-evaluated, as their positions changed.
      std::vector<int32_t> prompt = prompt_tokens();
      const size_t first = !messages_.empty() && messages_[0].role == "system" ? 1 : 0;
      while (prompt.size() >= ctx_.n_ctx() && messages_.size() > first + 1) {
        messages_.erase(messages_.begin() + static_cast<std::ptrdiff_t>(first));
        prompt = prompt_tokens();
      }
      r = generate(ctx_, prompt, opts, on_text);
    } catch (...) {
      messages_.pop_back();
      throw;
    }
    messages_.push_back(message("assistant", r.text));
  } else {
    raw_ += user_text;
    std::vector<int32_t> prompt = tokenize(raw_);
    if (prompt.size() >= ctx_.n_ctx()) {
      // Running text longer than the context: its first token (BOS) and the newest half.
      const size_t tail = ctx_.n_ctx() / 2;
      prompt.erase(prompt.begin() + 1, prompt.end() - static_cast<std::ptrdiff_t>(tail));
    }
    r = generate(ctx_, prompt, opts, on_text);
    raw_ += r.text;
  }
  return r;
}

}  // namespace omni::llm
