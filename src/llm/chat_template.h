// Renders a conversation with a model's own chat template (the Jinja2 text in GGUF metadata
// `tokenizer.chat_template`), the way HF transformers' apply_chat_template does: the template
// sees `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, `tools` (none unless
// given) and any extra variables, with trim_blocks and lstrip_blocks on.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/jinja/limits.h"

namespace omni::llm {

struct ChatMessage {
  std::string role;
  // A string, or a list of content parts ({"type": "text", "text": ...}, {"type": "image"}),
  // or null (an assistant turn that only calls tools).
  nlohmann::ordered_json content = "";
  std::optional<std::string> name;
  std::optional<std::string> reasoning_content;
  std::optional<std::string> tool_call_id;
  // Absent when null; else a list of {"id", "type": "function", "function": {"name",
  // "arguments"}} as in the OpenAI chat API.
  nlohmann::ordered_json tool_calls;
};

struct ChatOptions {
  bool add_generation_prompt = true;
  std::string bos_token;
  std::string eos_token;
  // Tool definitions (a list of {"type": "function", "function": {...}}); null means none.
  nlohmann::ordered_json tools;
  // Further variables for the template, e.g. {"enable_thinking": false, "date_string": ...}.
  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
  // What strftime_now() formats; the current local time when unset.
  std::optional<std::tm> now;
  jinja::Limits limits;
};

// Throws jinja::TemplateSyntaxError (a FormatError) for a malformed template,
// jinja::TemplateRaised with the template's own message when it calls raise_exception (e.g.
// roles that do not alternate), and omni::Error for other failures (with the template line).
std::string render_chat(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                        const ChatOptions& opts);

}  // namespace omni::llm
