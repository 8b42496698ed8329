// The library's errors for the bad inputs of the LLM issue: unknown architecture, structurally
// corrupted tensor data, a prompt longer than the context, invalid UTF-8 and an empty prompt.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "llm/chat.h"
#include "llm/generate.h"
#include "llm/model.h"
#include "testing/model_variants.h"
#include "testing/refdata.h"

namespace omni::llm {
namespace {

std::string stories() { return testing::refdata("llm/models/stories260K.gguf"); }

template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception";
  return "";
}

TEST(LlmBadInput, UnknownArchitectureIsNamed) {
  const std::string path = testing::write_with_architecture(stories(), "mamba");
  const std::string msg = message_of<Error>([&] { Model::load(path); });
  std::filesystem::remove(path);
  EXPECT_NE(msg.find("architecture 'mamba' is not supported"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(LlmBadInput, TensorDataPastTheEndNamesTensorAndOffset) {
  const auto size = std::filesystem::file_size(stories());
  const std::string path = testing::write_truncated(stories(), size - 4096);
  const std::string msg = message_of<FormatError>([&] { Model::load(path); });
  std::filesystem::remove(path);
  EXPECT_NE(msg.find("tensor '"), std::string::npos) << msg;
  EXPECT_NE(msg.find("extends past end of file"), std::string::npos) << msg;
}

TEST(LlmBadInput, PromptTextMustBeNonEmptyValidUtf8) {
  EXPECT_NO_THROW(check_prompt_text("caf\xC3\xA9"));
  EXPECT_NE(message_of<Error>([] { check_prompt_text(""); }).find("the prompt is empty"), std::string::npos);
  const std::string msg = message_of<Error>([] { check_prompt_text("ab\xC3(", "the prompt"); });
  EXPECT_NE(msg.find("not valid UTF-8: byte 0xc3 at offset 2"), std::string::npos) << msg;
  EXPECT_THROW(check_prompt_text("\xED\xA0\x80"), Error);  // a surrogate
  EXPECT_THROW(check_prompt_text("x\xFF"), Error);

  const auto model = Model::load(stories());
  Chat chat(model);
  const std::string chat_msg = message_of<Error>([&] { chat.send("hello \xFE", {}); });
  EXPECT_NE(chat_msg.find("not valid UTF-8"), std::string::npos) << chat_msg;
}

TEST(LlmBadInput, PromptLongerThanTheContext) {
  const auto model = Model::load(stories());
  Context ctx(model, {.n_ctx = 8});
  const auto prompt = model->vocab().tokenize("one two three four five six seven eight nine", true, false);
  ASSERT_GT(prompt.size(), 8u);
  const std::string msg = message_of<Error>([&] { generate(ctx, prompt, {}); });
  EXPECT_NE(msg.find("more than the context size 8"), std::string::npos) << msg;
  EXPECT_NE(message_of<Error>([&] { ctx.eval(prompt); }).find("exceed the context size 8"), std::string::npos);
  EXPECT_EQ(ctx.n_past(), 0u);  // nothing was evaluated
  EXPECT_THROW(generate(ctx, std::vector<int32_t>{}, {}), Error);
}

}  // namespace
}  // namespace omni::llm
