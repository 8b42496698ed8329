// The real chat templates of common model families (src/llm/testdata/templates, sources in the
// README there), rendered for typical conversations. Every expected string was written by hand
// by reading the template (Jinja2 semantics, trim_blocks + lstrip_blocks as HF transformers
// sets them), not produced by this code.
#include "llm/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/gguf.h"
#include "llm/jinja/error.h"
#include "testing/refdata.h"

namespace omni::llm {
namespace {

using json = nlohmann::ordered_json;

std::string load_template(const std::string& name) {
  const auto path = omni::testing::source_path("src/llm/testdata/templates") / name;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("missing test template " + path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ChatMessage msg(std::string role, json content) {
  ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

const char* const kSys = "You are a helpful assistant.";

std::vector<ChatMessage> conversation(bool with_system = true) {
  std::vector<ChatMessage> m;
  if (with_system) m.push_back(msg("system", kSys));
  m.push_back(msg("user", "Hello!"));
  m.push_back(msg("assistant", "Hi there."));
  m.push_back(msg("user", "What is 2+2?"));
  return m;
}

std::tm march_7_2025() {
  std::tm t{};
  t.tm_year = 2025 - 1900;
  t.tm_mon = 2;
  t.tm_mday = 7;
  t.tm_wday = 5;
  return t;
}

ChatOptions options(bool add_generation_prompt, std::string bos = "", std::string eos = "") {
  ChatOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.bos_token = std::move(bos);
  o.eos_token = std::move(eos);
  o.now = march_7_2025();
  return o;
}

json weather_tool() {
  return json::parse(R"({"type": "function", "function": {"name": "get_weather",
      "description": "Get the weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]}}})");
}

ChatMessage weather_call() {
  ChatMessage m = msg("assistant", "");
  m.tool_calls = json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}])");
  return m;
}

std::string raised(const std::string& tmpl, const std::vector<ChatMessage>& m, const ChatOptions& o) {
  try {
    render_chat(tmpl, m, o);
  } catch (const jinja::TemplateRaised& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(ChatTemplate, SmolLM2ChatML) {
  const std::string t = load_template("HuggingFaceTB-SmolLM2-1.7B-Instruct.jinja");
  EXPECT_EQ(render_chat(t, conversation(), options(true)),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\nHi there.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(t, {msg("user", "Hello!")}, options(false)),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n");
}

TEST(ChatTemplate, Qwen2FromGguf) {
  // The template stored in the refdata model tiny-qwen2-rand-f32.gguf (Qwen2-1.5B-Instruct's):
  // it ignores add_generation_prompt and always opens the assistant turn after a user turn.
  const std::string t = load_template("qwen2-1.5b-instruct-gguf.jinja");
  EXPECT_EQ(render_chat(t, conversation(), options(false)),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"
            "Hi there.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(t, {msg("system", "Be brief."), msg("user", "Hi")}, options(true)),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, Qwen2TemplateReadFromTheModelFile) {
  // The engine's real input: the GGUF metadata string, rendered as is.
  const auto file = gguf::File::open(testing::refdata("llm/models/tiny-qwen2-rand-f32.gguf"));
  const auto tmpl = file.get_string("tokenizer.chat_template");
  ASSERT_TRUE(tmpl.has_value());
  EXPECT_EQ(*tmpl, load_template("qwen2-1.5b-instruct-gguf.jinja"));
  EXPECT_EQ(render_chat(*tmpl, {msg("user", "Hi")}, options(true)),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, Qwen25) {
  const std::string t = load_template("Qwen-Qwen2.5-7B-Instruct.jinja");
  EXPECT_EQ(render_chat(t, conversation(), options(true)),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\nHi there.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(t, {msg("user", "Hello!")}, options(false)),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n");
}

TEST(ChatTemplate, Qwen25Tools) {
  const std::string t = load_template("Qwen-Qwen2.5-7B-Instruct.jinja");
  ChatOptions o = options(true);
  o.tools = json::array({weather_tool()});
  ChatMessage result = msg("tool", R"({"temp": 20})");
  EXPECT_EQ(
      render_chat(t, {msg("user", "What's the weather in Paris?"), weather_call(), result}, o),
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
      "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
      R"({"type": "function", "function": {"name": "get_weather", "description": "Get the weather", )"
      R"("parameters": {"type": "object", "properties": {"city": {"type": "string"}}, )"
      R"("required": ["city"]}}})"
      "\n</tools>\n\nFor each function call, return a json object with function name and "
      "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
      R"({"name": <function-name>, "arguments": <args-json-object>})"
      "\n</tool_call><|im_end|>\n"
      "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n"
      "<|im_start|>assistant\n<tool_call>\n"
      R"({"name": "get_weather", "arguments": {"city": "Paris"}})"
      "\n</tool_call><|im_end|>\n"
      "<|im_start|>user\n<tool_response>\n{\"temp\": 20}\n</tool_response><|im_end|>\n"
      "<|im_start|>assistant\n");
}

TEST(ChatTemplate, Qwen3NoThinking) {
  const std::string t = load_template("Qwen-Qwen3-0.6B.jinja");
  ChatOptions o = options(true);
  o.variables["enable_thinking"] = false;
  EXPECT_EQ(render_chat(t, conversation(), o),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\nHi there.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n");
  // Thinking left on: no empty think block.
  EXPECT_EQ(render_chat(t, {msg("user", "Hello!")}, options(true)),
            "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, Qwen3ReasoningContent) {
  const std::string t = load_template("Qwen-Qwen3-0.6B.jinja");
  // The last assistant turn after the last user query keeps its reasoning, split out of the
  // content at </think>.
  EXPECT_EQ(render_chat(t,
                        {msg("user", "Hello!"),
                         msg("assistant", "<think>\nLet me think.\n</think>\n\nHi there.")},
                        options(false)),
            "<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nLet me think.\n</think>\n\nHi there.<|im_end|>\n");
  // Reasoning of turns before the last query is dropped.
  ChatMessage old = msg("assistant", "Hi there.");
  old.reasoning_content = "secret";
  EXPECT_EQ(render_chat(t, {msg("user", "Hello!"), old, msg("user", "What is 2+2?")}, options(true)),
            "<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\nHi there.<|im_end|>\n"
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, Llama32) {
  const std::string t = load_template("meta-llama-Llama-3.2-3B-Instruct.jinja");
  std::vector<ChatMessage> m = conversation();
  m[0].content = "  You are a helpful assistant.\n";  // trimmed by the template
  // date_string comes from strftime_now("%d %b %Y") when not given.
  EXPECT_EQ(render_chat(t, m, options(true, "<|begin_of_text|>")),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 07 Mar 2025\n\n"
            "You are a helpful assistant.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi there.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  ChatOptions o = options(false, "<|begin_of_text|>");
  o.variables["date_string"] = "26 Jul 2024";
  EXPECT_EQ(render_chat(t, {msg("user", "Hello!")}, o),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>");
}

TEST(ChatTemplate, Llama31ToolsAndToolCalls) {
  // Llama 3.3's template is Llama 3.1's (same tools, builtin_tools and date_string logic).
  const std::string t = load_template("meta-llama-Llama-3.3-70B-Instruct.jinja");
  ChatOptions o = options(true, "<|begin_of_text|>");
  o.tools = json::array({weather_tool()});
  const std::vector<ChatMessage> m = {msg("system", kSys), msg("user", "What's the weather in Paris?"),
                                      weather_call(), msg("tool", R"({"temp": 20})")};
  EXPECT_EQ(render_chat(t, m, o),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Environment: ipython\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
            "You are a helpful assistant.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n"
            "Given the following functions, please respond with a JSON for a function call with "
            "its proper arguments that best answers the given prompt.\n\n"
            R"(Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.)"
            "Do not use variables.\n\n"
            "{\n"
            "    \"type\": \"function\",\n"
            "    \"function\": {\n"
            "        \"name\": \"get_weather\",\n"
            "        \"description\": \"Get the weather\",\n"
            "        \"parameters\": {\n"
            "            \"type\": \"object\",\n"
            "            \"properties\": {\n"
            "                \"city\": {\n"
            "                    \"type\": \"string\"\n"
            "                }\n"
            "            },\n"
            "            \"required\": [\n"
            "                \"city\"\n"
            "            ]\n"
            "        }\n"
            "    }\n"
            "}\n\n"
            "What's the weather in Paris?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
            R"({"name": "get_weather", "parameters": {"city": "Paris"}})"
            "<|eot_id|>"
            // A string is iterable, so the template JSON-encodes the tool result.
            "<|start_header_id|>ipython<|end_header_id|>\n\n"
            R"("{\"temp\": 20}")"
            "<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama31BuiltinTools) {
  const std::string t = load_template("meta-llama-Llama-3.3-70B-Instruct.jinja");
  ChatOptions o = options(true, "<|begin_of_text|>");
  o.variables["builtin_tools"] = json::array({"brave_search", "code_interpreter", "wolfram_alpha"});
  ChatMessage call = msg("assistant", "");
  call.tool_calls = json::parse(
      R"([{"type": "function", "function": {"name": "brave_search", "arguments": {"query": "weather"}}}])");
  EXPECT_EQ(render_chat(t, {msg("user", "Search weather"), call, msg("ipython", "sunny")}, o),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Environment: ipython\nTools: brave_search, wolfram_alpha\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nSearch weather<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
            "<|python_tag|>brave_search.call(query=\"weather\")<|eom_id|>"
            "<|start_header_id|>ipython<|end_header_id|>\n\n\"sunny\"<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Phi35) {
  const std::string t = load_template("microsoft-Phi-3.5-mini-instruct.jinja");
  EXPECT_EQ(render_chat(t, conversation(), options(true, "", "<|endoftext|>")),
            "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nHello!<|end|>\n"
            "<|assistant|>\nHi there.<|end|>\n<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render_chat(t, {msg("user", "Hello!"), msg("assistant", "Hi there.")},
                        options(false, "", "<|endoftext|>")),
            "<|user|>\nHello!<|end|>\n<|assistant|>\nHi there.<|end|>\n<|endoftext|>");
}

TEST(ChatTemplate, Gemma2) {
  const std::string t = load_template("google-gemma-2-2b-it.jinja");
  EXPECT_EQ(render_chat(t, conversation(false), options(true, "<bos>")),
            "<bos><start_of_turn>user\nHello!<end_of_turn>\n"
            "<start_of_turn>model\nHi there.<end_of_turn>\n"
            "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
            "<start_of_turn>model\n");
  EXPECT_EQ(raised(t, conversation(true), options(true, "<bos>")), "System role not supported");
  EXPECT_EQ(raised(t, {msg("user", "a"), msg("user", "b")}, options(true, "<bos>")),
            "Conversation roles must alternate user/assistant/user/assistant/...");
}

TEST(ChatTemplate, Gemma3MergesSystemIntoFirstUserTurn) {
  const std::string t = load_template("google-gemma-3-4b-it.jinja");
  EXPECT_EQ(render_chat(t, conversation(), options(true, "<bos>")),
            "<bos><start_of_turn>user\nYou are a helpful assistant.\n\nHello!<end_of_turn>\n"
            "<start_of_turn>model\nHi there.<end_of_turn>\n"
            "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
            "<start_of_turn>model\n");
  // Content parts: images become <start_of_image>, text is trimmed.
  const json parts = json::parse(R"([{"type": "image"}, {"type": "text", "text": " Describe this. "}])");
  const json sys_parts = json::parse(R"([{"type": "text", "text": "Be brief."}])");
  EXPECT_EQ(render_chat(t, {msg("system", sys_parts), msg("user", parts)}, options(false, "<bos>")),
            "<bos><start_of_turn>user\nBe brief.\n\n<start_of_image>Describe this.<end_of_turn>\n");
  EXPECT_EQ(raised(t, {msg("system", kSys), msg("assistant", "x")}, options(true, "<bos>")),
            "Conversation roles must alternate user/assistant/user/assistant/...");
}

TEST(ChatTemplate, MistralV1) {
  const std::string t = load_template("mistralai-Mistral-7B-Instruct-v0.1.jinja");
  EXPECT_EQ(render_chat(t, conversation(false), options(true, "<s>", "</s>")),
            "<s>[INST] Hello! [/INST]Hi there.</s> [INST] What is 2+2? [/INST]");
  EXPECT_EQ(raised(t, {msg("user", "a"), msg("user", "b")}, options(true, "<s>", "</s>")),
            "Conversation roles must alternate user/assistant/user/assistant/...");
  EXPECT_EQ(raised(t, conversation(true), options(true, "<s>", "</s>")),
            "Conversation roles must alternate user/assistant/user/assistant/...");
}

TEST(ChatTemplate, MistralNemoV3) {
  const std::string t = load_template("mistralai-Mistral-Nemo-Instruct-2407.jinja");
  // The system message goes into the last user turn.
  EXPECT_EQ(render_chat(t, conversation(), options(true, "<s>", "</s>")),
            "<s>[INST]Hello![/INST]Hi there.</s>"
            "[INST]You are a helpful assistant.\n\nWhat is 2+2?[/INST]");
  EXPECT_EQ(raised(t, {msg("user", "a"), msg("user", "b")}, options(true, "<s>", "</s>")),
            "After the optional system message, conversation roles must alternate "
            "user/assistant/user/assistant/...");
  ChatOptions o = options(true, "<s>", "</s>");
  o.tools = json::array({weather_tool()});
  EXPECT_EQ(render_chat(t, {msg("user", "What's the weather in Paris?")}, o),
            "<s>[AVAILABLE_TOOLS]["
            R"({"type": "function", "function": {"name": "get_weather", "description": "Get the weather", )"
            R"("parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})"
            "][/AVAILABLE_TOOLS][INST]What's the weather in Paris?[/INST]");
}

TEST(ChatTemplate, MistralSmallV7) {
  const std::string t = load_template("mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja");
  EXPECT_EQ(render_chat(t, conversation(), options(true, "<s>", "</s>")),
            "<s>[SYSTEM_PROMPT]You are a helpful assistant.[/SYSTEM_PROMPT]"
            "[INST]Hello![/INST]Hi there.</s>[INST]What is 2+2?[/INST]");
  // Without a system message: the default one, with today's date; a backslash before a newline
  // in a string literal continues the line (Python escapes), so the sentences run together.
  EXPECT_EQ(render_chat(t, {msg("user", "Hello!")}, options(true, "<s>", "</s>")),
            "<s>[SYSTEM_PROMPT]You are Mistral Small 3, a Large Language Model (LLM) created by "
            "Mistral AI, a French startup headquartered in Paris.Your knowledge base was last "
            "updated on 2023-10-01. The current date is 2025-03-07.When you're not sure about some "
            "information, you say that you don't have the information and don't make up anything."
            "If the user's question is not clear, ambiguous, or does not provide enough context for "
            "you to accurately answer the question, you do not try to answer it right away and you "
            "rather ask the user to clarify their request (e.g. \"What are some good restaurants "
            "around me?\" => \"Where are you?\" or \"When is the next flight to Tokyo\" => \"Where "
            "do you travel from?\")[/SYSTEM_PROMPT][INST]Hello![/INST]");
  // Its alternation check collects messages with `set` inside a for loop, which (Jinja2
  // scoping) never reaches the outer variable, so the check never fires; we match Jinja2.
  EXPECT_EQ(render_chat(t, {msg("user", "a"), msg("user", "b")}, options(true, "<s>", "</s>")),
            "<s>[SYSTEM_PROMPT]You are Mistral Small 3, a Large Language Model (LLM) created by "
            "Mistral AI, a French startup headquartered in Paris.Your knowledge base was last "
            "updated on 2023-10-01. The current date is 2025-03-07.When you're not sure about some "
            "information, you say that you don't have the information and don't make up anything."
            "If the user's question is not clear, ambiguous, or does not provide enough context for "
            "you to accurately answer the question, you do not try to answer it right away and you "
            "rather ask the user to clarify their request (e.g. \"What are some good restaurants "
            "around me?\" => \"Where are you?\" or \"When is the next flight to Tokyo\" => \"Where "
            "do you travel from?\")[/SYSTEM_PROMPT][INST]a[/INST][INST]b[/INST]");
}

TEST(ChatTemplate, ErrorsAreReported) {
  EXPECT_THROW(render_chat("{% if %}", conversation(), options(true)), jinja::TemplateSyntaxError);
  EXPECT_THROW(render_chat("{{ messages[0].content + 1 }}", conversation(), options(true)), Error);
}

}  // namespace
}  // namespace omni::llm
