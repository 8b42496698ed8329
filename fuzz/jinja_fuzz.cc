// Fuzzes the chat-template engine: the input is template text, rendered for a fixed
// conversation (system, user, assistant with a tool call, tool result, user with content parts)
// with tools defined. Any input must end in output or an omni::Error: never a crash, a hang or
// unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "llm/chat_template.h"

namespace {

std::vector<omni::llm::ChatMessage> conversation() {
  using json = nlohmann::ordered_json;
  std::vector<omni::llm::ChatMessage> m(5);
  m[0].role = "system";
  m[0].content = "You are a helpful assistant.";
  m[1].role = "user";
  m[1].content = "What's the weather in Paris?";
  m[2].role = "assistant";
  m[2].content = "<think>\nLook it up.\n</think>\n\n";
  m[2].tool_calls = json::parse(
      R"([{"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}])");
  m[3].role = "tool";
  m[3].content = R"({"temp": 20})";
  m[3].tool_call_id = "call12345";
  m[4].role = "user";
  m[4].content = json::parse(R"([{"type": "image"}, {"type": "text", "text": " And this? "}])");
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<omni::llm::ChatMessage> messages = conversation();
  static const omni::llm::ChatOptions opts = [] {
    omni::llm::ChatOptions o;
    o.bos_token = "<s>";
    o.eos_token = "</s>";
    o.tools = nlohmann::ordered_json::parse(
        R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])");
    o.variables["enable_thinking"] = false;
    std::tm t{};
    t.tm_year = 125;
    t.tm_mday = 1;
    o.now = t;
    // Small budgets keep each run short; the limits themselves are what is under test.
    o.limits.max_steps = 200000;
    o.limits.max_output = 1 << 20;
    o.limits.max_string = 1 << 20;
    o.limits.max_items = 100000;
    return o;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)omni::llm::render_chat(text, messages, opts);
  } catch (const omni::Error&) {
  }
  return 0;
}
