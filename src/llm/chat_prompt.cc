#include "llm/chat_prompt.h"

#include <string_view>

#include "core/error.h"

namespace omni::llm {
namespace {

// Every message string the template can print.
template <typename Fn>
void for_each_text(std::vector<ChatMessage>& messages, Fn fn) {
  for (auto& m : messages) {
    if (m.content.is_string()) {
      fn(m.content.get_ref<std::string&>());
    } else if (m.content.is_array()) {
      for (auto& part : m.content) {
        if (part.is_object() && part.contains("text") && part["text"].is_string()) {
          fn(part["text"].get_ref<std::string&>());
        }
      }
    }
    if (m.reasoning_content) fn(*m.reasoning_content);
  }
}

bool has_control_text(const Vocab& vocab, std::string_view s) {
  // Plain tokenization of the string alone: any control/unknown token id means it holds one.
  for (const TokenId id : vocab.tokenize(s, false, true)) {
    if (vocab.attr(id) & (kAttrControl | kAttrUnknown)) return true;
  }
  return false;
}

}  // namespace

GuardedChat render_chat_guarded(const Vocab& vocab, const std::string& tmpl,
                                const std::vector<ChatMessage>& messages, const ChatOptions& opts) {
  GuardedChat out;
  out.text = render_chat(tmpl, messages, opts);

  // Markers that occur in no message (control characters no template emits on its own).
  std::vector<ChatMessage> marked = messages;
  std::string begin, end;
  for (int k = 0;; ++k) {
    begin = "\x1d" "b" + std::to_string(k) + "\x1e";
    end = "\x1d" "e" + std::to_string(k) + "\x1e";
    bool clash = out.text.find(begin) != std::string::npos || out.text.find(end) != std::string::npos;
    for_each_text(marked, [&](std::string& s) {
      clash = clash || s.find(begin) != std::string::npos || s.find(end) != std::string::npos;
    });
    if (!clash) break;
  }
  for_each_text(marked, [&](std::string& s) { s = begin + s + end; });
  const std::string with_markers = render_chat(tmpl, marked, opts);

  // Strip the markers, recording the spans they enclosed.
  std::string stripped;
  std::vector<TextSpan> spans;
  bool balanced = true, open = false;
  size_t open_at = 0;
  for (size_t i = 0; i < with_markers.size();) {
    if (with_markers.compare(i, begin.size(), begin) == 0) {
      balanced = balanced && !open;
      open = true;
      open_at = stripped.size();
      i += begin.size();
    } else if (with_markers.compare(i, end.size(), end) == 0) {
      balanced = balanced && open;
      if (open && stripped.size() > open_at) spans.push_back({open_at, stripped.size()});
      open = false;
      i += end.size();
    } else {
      stripped += with_markers[i++];
    }
  }
  if (balanced && !open && stripped == out.text) {
    out.literal = std::move(spans);
    return out;
  }
  // The template cut or rewrote some message (e.g. keeps only the text after a reasoning block),
  // so the spans cannot be trusted. Harmless if no message holds control-token text; otherwise
  // refuse rather than let that text act as control tokens.
  bool risky = false;
  for_each_text(marked, [&](std::string& s) {
    const std::string_view plain(s.data() + begin.size(), s.size() - begin.size() - end.size());
    risky = risky || has_control_text(vocab, plain);
  });
  if (risky) {
    throw Error("a message contains control-token text and the chat template rewrites message text, "
                "so it cannot be kept literal; remove the control-token text from the message");
  }
  return out;
}

std::vector<TokenId> tokenize_chat(const Vocab& vocab, const GuardedChat& chat) {
  // Templates that write the BOS text themselves must not get a second BOS from the tokenizer.
  bool add_special = true;
  if (vocab.add_bos() && vocab.bos() != kNoToken && chat.text.starts_with(vocab.token_text(vocab.bos()))) {
    add_special = false;
  }
  return vocab.tokenize(chat.text, add_special, /*parse_special=*/true, chat.literal);
}

}  // namespace omni::llm
