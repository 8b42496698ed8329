#include "core/model_info.h"

#include <gtest/gtest.h>

namespace omni {
namespace {

using namespace gguf;

TEST(ModelInfo, SortsKeysIntoSectionsAndSummarizesLongArrays) {
  Writer w;
  w.set("general.architecture", make_string("llama"));
  w.set("general.name", make_string("t"));
  w.set("llama.block_count", make_u32(2));
  w.set("llama.rope.scaling.factors", make_array(ValueType::F32, {make_f32(0.5f), make_f32(2)}));
  std::vector<Value> tokens, merges;
  for (int i = 0; i < 40; ++i) tokens.push_back(make_string(std::to_string(i)));
  for (int i = 0; i < 3; ++i) merges.push_back(make_string("a b"));
  w.set("tokenizer.ggml.model", make_string("gpt2"));
  w.set("tokenizer.ggml.tokens", make_array(ValueType::STRING, tokens));
  w.set("tokenizer.ggml.merges", make_array(ValueType::STRING, merges));
  w.set("tokenizer.ggml.bos_token_id", make_u32(7));
  w.set("tokenizer.ggml.add_bos_token", make_bool(true));
  w.set("tokenizer.chat_template", make_string("{{ x }}"));
  w.set("general.tags", make_array(ValueType::STRING, tokens));
  std::vector<uint8_t> q(18 * 2), f(4 * 3);
  w.add_tensor("a", DType::Q4_0, {32, 2}, q);
  w.add_tensor("b", DType::F32, {3}, f);
  const auto bytes = w.to_bytes();
  const auto d = describe_gguf(File::parse(bytes, "m.gguf"));

  EXPECT_EQ(d["architecture"], "llama");
  EXPECT_EQ(d["hparams"].size(), 2u);
  EXPECT_EQ(d["hparams"]["llama.block_count"], 2);
  EXPECT_EQ(d["hparams"]["llama.rope.scaling.factors"], (nlohmann::ordered_json{0.5, 2.0}));
  EXPECT_EQ(d["tokenizer"]["model"], "gpt2");
  EXPECT_TRUE(d["tokenizer"]["pre"].is_null());
  EXPECT_EQ(d["tokenizer"]["n_tokens"], 40);
  EXPECT_EQ(d["tokenizer"]["n_merges"], 3);
  EXPECT_EQ(d["tokenizer"]["special_tokens"]["bos_token_id"], 7);
  EXPECT_EQ(d["tokenizer"]["add_bos_token"], true);
  EXPECT_EQ(d["tokenizer"]["chat_template"]["length"], 7);
  EXPECT_EQ(d["metadata"]["general.name"], "t");
  const auto& tags = d["metadata"]["general.tags"];
  EXPECT_EQ(tags["array_of"], "string");
  EXPECT_EQ(tags["length"], 40);
  EXPECT_EQ(tags["first"].size(), 4u);
  EXPECT_EQ(d["n_parameters"], 67);
  EXPECT_EQ(d["tensor_bytes"], 48);
  EXPECT_EQ(d["by_type"]["q4_0"]["parameters"], 64);
  EXPECT_EQ(d["by_type"]["f32"]["bytes"], 12);
  EXPECT_EQ(d["tensors"][0]["shape"], (nlohmann::ordered_json{32, 2}));
  EXPECT_EQ(d["tensors"][1]["offset"], 64);
}

}  // namespace
}  // namespace omni
