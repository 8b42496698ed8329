#include "llm/chat.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "testing/refdata.h"

namespace omni::llm {
namespace {

TEST(Chat, QwenTemplateTurnsReuseTheKvCache) {
  auto model = Model::load(testing::refdata("llm/models/tiny-qwen2-rand-f32.gguf"));
  Chat chat(model, {.n_ctx = 256}, "Be brief.");
  ASSERT_TRUE(chat.has_template());
  GenerateOptions o;
  o.max_tokens = 4;
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  const auto r1 = chat.send("Hello", o);
  EXPECT_EQ(r1.timings.reused_tokens, 0);
  EXPECT_EQ(chat.messages().size(), 3u);  // system, user, assistant
  const std::string next = chat.render(true);
  EXPECT_EQ(next.rfind("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
                       "<|im_start|>assistant\n", 0), 0u) << next;
  const auto r2 = chat.send("And then?", o);
  // The second turn evaluates only what is new: the earlier turn's tokens stay cached.
  EXPECT_GT(r2.timings.reused_tokens, 15);
  EXPECT_LT(r2.timings.prompt_tokens, 20);
  chat.reset();
  EXPECT_EQ(chat.messages().size(), 1u);
}

TEST(Chat, StoryModelWithoutTemplateContinuesText) {
  auto model = Model::load(testing::refdata("llm/models/stories260K.gguf"));
  Chat chat(model, {.n_ctx = 128});
  EXPECT_FALSE(chat.has_template());
  GenerateOptions o;
  o.max_tokens = 12;
  o.sampling.temperature = 0;
  const auto r = chat.send("Once upon a time", o);
  EXPECT_EQ(r.text, ", there was a little girl named Lily. She");
  EXPECT_THROW(Chat(model).send("", o), Error);
}

}  // namespace
}  // namespace omni::llm
