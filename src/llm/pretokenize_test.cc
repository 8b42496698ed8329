// Pre-tokenizer splits worked out by hand from the regexes (backtracking semantics). gpt-2,
// qwen2 and deepseek-coder are also covered against llama.cpp by tokenizer_test.cc.
#include "llm/pretokenize.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace omni::llm {
namespace {

using Words = std::vector<std::string>;

TEST(PreTokenize, Gpt2) {
  EXPECT_EQ(pre_tokenize(PreTokenizer::kGpt2, "Hello world's  end!!\n"),
            (Words{"Hello", " world", "'s", " ", " end", "!!", "\n"}));
  // A single space before a newline-free non-space is not matched: it stays its own piece.
  EXPECT_EQ(pre_tokenize(PreTokenizer::kGpt2, "a\nb"), (Words{"a", "\n", "b"}));
  EXPECT_EQ(pre_tokenize(PreTokenizer::kGpt2, "It'S"), (Words{"It", "'", "S"}));
  EXPECT_TRUE(pre_tokenize(PreTokenizer::kGpt2, "").empty());
}

TEST(PreTokenize, Llama3) {
  EXPECT_EQ(pre_tokenize(PreTokenizer::kLlama3, "Hello world 123456 ok\n\n  x"),
            (Words{"Hello", " world", " ", "123", "456", " ok", "\n\n", " ", " x"}));
  EXPECT_EQ(pre_tokenize(PreTokenizer::kLlama3, "It'S ...\n\nz"),
            (Words{"It", "'S", " ...\n\n", "z"}));
  EXPECT_EQ(pre_tokenize(PreTokenizer::kLlama3, "(x) \t\n y"),
            (Words{"(x", ")", " \t\n", " y"}));
  EXPECT_EQ(pre_tokenize(PreTokenizer::kQwen2, "v12"), (Words{"v", "1", "2"}));
}

TEST(PreTokenize, Falcon) {
  EXPECT_EQ(pre_tokenize(PreTokenizer::kFalcon, "Hello, world!!! 12345"),
            (Words{"Hello", ",", " world", "!!!", " ", "123", "45"}));
}

TEST(PreTokenize, Starcoder) {
  EXPECT_EQ(pre_tokenize(PreTokenizer::kStarcoder, "ab12 c"), (Words{"ab", "1", "2", " c"}));
}

TEST(PreTokenize, Default) {
  EXPECT_EQ(pre_tokenize(PreTokenizer::kDefault, "a+b=12345"),
            (Words{"a", "+", "b", "=", "123", "45"}));
}

TEST(PreTokenize, DeepseekLlm) {
  EXPECT_EQ(pre_tokenize(PreTokenizer::kDeepseekLlm, "Hello \xE4\xB8\x96\xE7\x95\x8C 123 \n"),
            (Words{"Hello", " ", "\xE4\xB8\x96\xE7\x95\x8C", " ", "123", " ", "\n"}));
}

TEST(PreTokenize, DeepseekCoder) {
  EXPECT_EQ(pre_tokenize(PreTokenizer::kDeepseekCoder, "if x>=10:\n  y"),
            (Words{"if", " x", ">=", "1", "0", ":", "\n", " ", " y"}));
}

TEST(PreTokenize, InvalidBytesBecomeReplacement) {
  EXPECT_EQ(pre_tokenize(PreTokenizer::kGpt2, "a\xFF"), (Words{"a", "\xEF\xBF\xBD"}));
}

TEST(PreTokenize, Names) {
  EXPECT_EQ(pre_tokenizer_info("qwen2").kind, PreTokenizer::kQwen2);
  EXPECT_FALSE(pre_tokenizer_info("qwen2").clean_spaces);
  EXPECT_TRUE(pre_tokenizer_info("llama-bpe").ignore_merges);
  EXPECT_TRUE(pre_tokenizer_info("llama-bpe").default_add_bos);
  EXPECT_EQ(pre_tokenizer_info("").kind, PreTokenizer::kDefault);
  EXPECT_EQ(pre_tokenizer_info("refact").kind, PreTokenizer::kStarcoder);
  EXPECT_THROW(pre_tokenizer_info("no-such-pre"), FormatError);
}

}  // namespace
}  // namespace omni::llm
