#include "llm/chat_template.h"

#include "llm/jinja/template.h"

namespace omni::llm {

namespace {

jinja::Value message_value(const ChatMessage& m) {
  jinja::Value d = jinja::Value::dict();
  auto& dict = d.as_dict();
  dict.set("role", jinja::Value::string(m.role));
  dict.set("content", jinja::Value::from_json(m.content));
  if (m.name) dict.set("name", jinja::Value::string(*m.name));
  if (m.reasoning_content) {
    dict.set("reasoning_content", jinja::Value::string(*m.reasoning_content));
  }
  if (m.tool_call_id) dict.set("tool_call_id", jinja::Value::string(*m.tool_call_id));
  if (!m.tool_calls.is_null()) dict.set("tool_calls", jinja::Value::from_json(m.tool_calls));
  return d;
}

}  // namespace

std::string render_chat(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                        const ChatOptions& opts) {
  const jinja::Template t(tmpl);
  std::unordered_map<std::string, jinja::Value> globals;
  jinja::ValueList msgs;
  for (const auto& m : messages) msgs.push_back(message_value(m));
  globals["messages"] = jinja::Value::list(std::move(msgs));
  globals["add_generation_prompt"] = jinja::Value::boolean(opts.add_generation_prompt);
  globals["bos_token"] = jinja::Value::string(opts.bos_token);
  globals["eos_token"] = jinja::Value::string(opts.eos_token);
  globals["tools"] = jinja::Value::from_json(opts.tools);
  if (opts.variables.is_object()) {
    for (const auto& [k, v] : opts.variables.items()) globals[k] = jinja::Value::from_json(v);
  }
  const std::optional<std::tm> now = opts.now;
  jinja::add_builtin_globals(globals, [now]() {
    if (now) return *now;
    const std::time_t secs = std::time(nullptr);
    std::tm tm{};
    localtime_r(&secs, &tm);
    return tm;
  });
  return t.render(std::move(globals), opts.limits);
}

}  // namespace omni::llm
