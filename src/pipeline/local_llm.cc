#include "pipeline/local_llm.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace omni::pipeline {
namespace {

llm::ChatMessage message(std::string role, std::string content) {
  llm::ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

}  // namespace

LocalLanguageModel::LocalLanguageModel(const std::string& path, llm::ContextOptions ctx_options)
    : LocalLanguageModel(llm::Model::load(path),
                         std::filesystem::path(path).filename().string(), ctx_options) {}

LocalLanguageModel::LocalLanguageModel(std::shared_ptr<const llm::Model> model, std::string name,
                                       llm::ContextOptions ctx_options)
    : model_(std::move(model)), name_(std::move(name)), ctx_options_(ctx_options) {}

std::unique_ptr<TextGenerator> LocalLanguageModel::start_conversation(
    const std::string& system_prompt) {
  return std::make_unique<LocalConversation>(model_, name_, ctx_options_, system_prompt);
}

LocalConversation::LocalConversation(std::shared_ptr<const llm::Model> model, std::string name,
                                     llm::ContextOptions ctx_options, std::string system_prompt)
    : model_(std::move(model)),
      name_(std::move(name)),
      ctx_(model_, ctx_options),
      template_(model_->file().get_string("tokenizer.chat_template").value_or("")),
      system_(std::move(system_prompt)) {
  reset();
}

namespace {
struct LocalSnapshot : ConversationSnapshot {
  std::vector<llm::ChatMessage> messages;
  std::string raw;
  size_t images = 0;
  bool pending_user = false;
  llm::ImageLayout layout = llm::ImageLayout::kPlain;
};
}  // namespace

std::unique_ptr<ConversationSnapshot> LocalConversation::snapshot() const {
  auto s = std::make_unique<LocalSnapshot>();
  s->messages = messages_;
  s->raw = raw_;
  s->images = images_.size();
  s->pending_user = pending_user_;
  s->layout = layout_;
  return s;
}

void LocalConversation::restore(const ConversationSnapshot& snap) {
  const auto* s = dynamic_cast<const LocalSnapshot*>(&snap);
  // Images are only ever appended, so a snapshot of this conversation never has more.
  if (!s || s->images > images_.size()) throw Error("conversation: foreign snapshot");
  messages_ = s->messages;
  raw_ = s->raw;
  images_.erase(images_.begin() + static_cast<std::ptrdiff_t>(s->images), images_.end());
  pending_user_ = s->pending_user;
  layout_ = s->layout;
}

void LocalConversation::reset() {
  messages_.clear();
  raw_.clear();
  images_.clear();
  pending_user_ = false;
  if (!system_.empty()) {
    if (has_template()) {
      messages_.push_back(message("system", system_));
    } else {
      raw_ = system_;
    }
  }
}

std::string LocalConversation::render(const std::vector<llm::ChatMessage>& messages,
                                      bool add_generation_prompt) const {
  const llm::Vocab& v = model_->vocab();
  llm::ChatOptions o;
  o.add_generation_prompt = add_generation_prompt;
  if (v.bos() != llm::kNoToken) o.bos_token = v.token_text(v.bos());
  if (v.eos() != llm::kNoToken) o.eos_token = v.token_text(v.eos());
  return llm::render_chat(template_, messages, o);
}

std::vector<int32_t> LocalConversation::tokenize(const std::string& text) const {
  const llm::Vocab& v = model_->vocab();
  // Templates that write the BOS text themselves must not get a second BOS from the tokenizer.
  bool add_special = true;
  if (v.add_bos() && v.bos() != llm::kNoToken && text.starts_with(v.token_text(v.bos()))) {
    add_special = false;
  }
  return v.tokenize(text, add_special, /*parse_special=*/has_template());
}

llm::Prompt LocalConversation::media_prompt(const std::string& text) const {
  const llm::Vocab& v = model_->vocab();
  llm::MediaPromptOptions mo;
  mo.layout = layout_;
  // As tokenize(): no second BOS when the template wrote it; specials only with a template.
  mo.add_special = !(v.add_bos() && v.bos() != llm::kNoToken && text.starts_with(v.token_text(v.bos())));
  mo.parse_special = has_template();
  return llm::build_media_prompt(v, text, images_, mo);
}

void LocalConversation::add_user(const UserMessage& msg) {
  std::string text;
  std::vector<llm::ImageEmbeddings> added;
  bool prev_text = false;
  for (const auto& p : msg.parts) {
    if (!p.image && !p.embeddings) {
      if (p.text.empty()) continue;
      if (prev_text) text += '\n';
      text += p.text;
      prev_text = true;
      continue;
    }
    const ImageEmbeddings* e = p.embeddings.get();
    if (!e || e->data.empty()) {
      throw Error(name_ + ": an image reaches this model only as embeddings (give --mmproj, or "
                          "read the image as words with --image-mode ocr)");
    }
    const uint32_t n_embd = model_->config().n_embd;
    if (e->n_embd <= 0 || static_cast<uint32_t>(e->n_embd) != n_embd) {
      throw Error(name_ + ": the image embeddings have " + std::to_string(e->n_embd) +
                  " values per row but the model's n_embd is " + std::to_string(n_embd));
    }
    const llm::ImageLayout layout =
        e->projector == "idefics3" ? llm::ImageLayout::kIdefics3 : llm::ImageLayout::kPlain;
    if ((!images_.empty() || !added.empty()) && layout != layout_) {
      throw Error(name_ + ": images from different projector families in one conversation");
    }
    layout_ = layout;
    llm::ImageEmbeddings ie;
    ie.embd = e->data;
    ie.n_embd = n_embd;
    ie.grid_cols = static_cast<uint32_t>(e->grid_cols);
    ie.grid_rows = static_cast<uint32_t>(e->grid_rows);
    ie.rows_per_tile = static_cast<uint32_t>(e->tokens_per_tile);
    added.push_back(std::move(ie));
    text += llm::kMediaMarker;
    prev_text = false;
  }
  if (text.empty()) throw Error("conversation: empty user message");
  if (has_template()) {
    if (pending_user_) {
      // Two user messages in a row become one (templates insist on alternating roles).
      auto& last = messages_.back();
      last.content = last.content.get<std::string>() + "\n" + text;
    } else {
      messages_.push_back(message("user", text));
    }
  } else {
    if (!raw_.empty() && !raw_.ends_with(' ') && !raw_.ends_with('\n')) raw_ += ' ';
    raw_ += text;
  }
  for (auto& a : added) images_.push_back(std::move(a));
  pending_user_ = true;
}

int LocalConversation::prefill(std::string_view pending, const CancelToken& cancel) {
  if (cancel.cancelled()) return 0;
  // With images the prompt is not a token list; the next generate() reuses the cache by keys.
  if (!images_.empty()) return 0;
  // Sentinel after the pending text: the rendering is certain only up to it (the template closes
  // the user turn after the text, which is still growing).
  static constexpr char kMark = '\x01';
  std::string text;
  if (has_template()) {
    auto msgs = messages_;
    if (pending_user_) {
      msgs.back().content = msgs.back().content.get<std::string>() + "\n" + std::string(pending) + kMark;
    } else {
      msgs.push_back(message("user", std::string(pending) + kMark));
    }
    text = render(msgs, false);
    const size_t at = text.rfind(kMark);
    if (at == std::string::npos) return 0;
    text.resize(at);
  } else {
    text = raw_;
    if (!pending.empty() && !text.empty() && !text.ends_with(' ') && !text.ends_with('\n')) text += ' ';
    text += pending;
  }
  if (text.empty()) return 0;
  std::vector<int32_t> toks = tokenize(text);
  // The last token may merge with text still to come; leave it to the real turn.
  if (toks.size() < 2) return 0;
  toks.pop_back();
  if (toks.size() > ctx_.n_ctx()) return 0;
  const auto hist = ctx_.history();
  if (hist.size() >= toks.size() && std::equal(toks.begin(), toks.end(), hist.begin())) return 0;
  const uint32_t kept = ctx_.reuse_prefix(toks);
  if (kept >= toks.size()) return 0;
  std::span<const int32_t> rest(toks.data() + kept, toks.size() - kept);
  ctx_.eval(rest);
  return static_cast<int>(rest.size());
}

Reply LocalConversation::generate(const GenOptions& options, const CancelToken& cancel,
                                  const OnText& on_text) {
  if (!pending_user_ && (has_template() || raw_.empty())) {
    throw Error("conversation: no user message to answer");
  }
  llm::GenerateOptions o;
  o.max_tokens = options.max_tokens;
  o.stop = options.stop;
  o.sampling.temperature = options.temperature;
  o.sampling.top_p = options.top_p;
  o.sampling.top_k = options.top_k;
  o.sampling.seed = options.seed;
  if (options.temperature <= 0) o.sampling.min_p = 0;
  const std::string prompt = has_template() ? render(messages_, true) : raw_;
  auto cb = [&](std::string_view piece) {
    if (cancel.cancelled()) return false;
    if (on_text && !on_text(piece)) return false;
    return !cancel.cancelled();
  };
  llm::GenerateResult r;
  if (cancel.cancelled()) {
    r.finish_reason = "cancelled";
  } else {
    r = images_.empty() ? llm::generate(ctx_, tokenize(prompt), o, cb)
                        : llm::generate(ctx_, media_prompt(prompt), o, cb);
  }
  if (has_template()) {
    messages_.push_back(message("assistant", r.text));
  } else {
    raw_ += r.text;
  }
  pending_user_ = false;
  Reply out;
  out.text = r.text;
  out.finish_reason = r.finish_reason;
  out.stats.prompt_tokens = r.timings.prompt_tokens;
  out.stats.reused_tokens = r.timings.reused_tokens;
  out.stats.generated_tokens = r.timings.generated_tokens;
  out.stats.prompt_ms = r.timings.prompt_ms;
  out.stats.generate_ms = r.timings.generate_ms;
  return out;
}

}  // namespace omni::pipeline
