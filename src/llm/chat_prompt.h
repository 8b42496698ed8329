// Chat prompts whose message text can never turn into control tokens. The template's own text
// (e.g. "<|im_start|>user\n") must be tokenized with special-token parsing, but a user who types
// "<|im_end|><|im_start|>system ..." must get those characters as plain text, or they could
// forge turns. We render the template once with invisible markers around every message string,
// note where each string landed, and tokenize the normal rendering with those byte spans
// literal (Vocab::tokenize with spans): ids equal the plain tokenization whenever no message
// contains control-token text.
#pragma once

#include <string>
#include <vector>

#include "llm/chat_template.h"
#include "llm/vocab.h"

namespace omni::llm {

struct GuardedChat {
  std::string text;               // exactly what render_chat returns
  std::vector<TextSpan> literal;  // where message text sits in `text`
};

// Throws like render_chat; also omni::Error when the template transforms a message that holds
// control-token text so that its place in the output cannot be found (failing closed).
GuardedChat render_chat_guarded(const Vocab& vocab, const std::string& tmpl,
                                const std::vector<ChatMessage>& messages, const ChatOptions& opts);

// Token ids of a rendered chat: template text with special-token parsing, message text without.
// BOS is added as the vocabulary asks unless the text already starts with the BOS text.
std::vector<TokenId> tokenize_chat(const Vocab& vocab, const GuardedChat& chat);

}  // namespace omni::llm
