// `omni generate`, `omni logits` and `omni bench llm` as a user runs them.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/refdata.h"

namespace omni {
namespace {

nlohmann::json golden(const std::string& model) {
  std::ifstream f(testing::refdata("llm/golden/" + model + ".json"));
  return nlohmann::json::parse(f);
}

std::string omni_cmd(const std::string& args) { return testing::binary("omni") + " " + args; }

TEST(CliGenerate, GreedyStoriesEqualsGolden) {
  const auto g = golden("stories260K");
  const auto& p = g["prompts"][0];
  ASSERT_EQ(p["prompt"], "Once upon a time");
  std::string out;
  ASSERT_EQ(testing::run_command(omni_cmd("generate -m " + testing::refdata("llm/models/stories260K.gguf") +
                                          " -p 'Once upon a time' -n 32 --temp 0 -t 1 --ignore-eos --json"),
                                 &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["tokens"], p["greedy"]["tokens"]);
  EXPECT_EQ(j["text"], p["greedy"]["text(detokenize remove_special=false unparse_special=false)"]);
  EXPECT_EQ(j["prompt_tokens"], p["prompt_tokens(add_special=true,parse_special=true)"]);
  EXPECT_EQ(j["finish_reason"], "length");
  EXPECT_GT(j["timings"]["generate_tokens_per_s"].get<double>(), 0);
}

TEST(CliGenerate, StreamsPlainTextAndStopsAtStopString) {
  std::string out;
  ASSERT_EQ(testing::run_command(omni_cmd("generate -m " + testing::refdata("llm/models/stories260K.gguf") +
                                          " -p 'Once upon a time' -n 64 --temp 0 --stop Lily"),
                                 &out), 0);
  // Greedy text is ", there was a little girl named Lily. ..." : cut before the stop string.
  EXPECT_EQ(out, ", there was a little girl named \n");
}

TEST(CliLogits, TopMatchesGolden) {
  for (const char* model : {"stories260K", "tiny-qwen2-rand-f32"}) {
    const auto g = golden(model);
    const auto& p = g["prompts"][1];
    std::string out;
    ASSERT_EQ(testing::run_command(omni_cmd("logits -m " + testing::refdata(std::string("llm/models/") + model + ".gguf") +
                                            " -p '" + p["prompt"].get<std::string>() + "' --top 5 --json"),
                                   &out), 0) << out;
    const auto j = nlohmann::json::parse(out);
    ASSERT_EQ(j["top"].size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      const auto& want = p["last_logits"]["top50_id_logit"][i];
      EXPECT_EQ(j["top"][i][0], want[0]) << model << " rank " << i;
      EXPECT_NEAR(j["top"][i][1].get<double>(), want[1].get<double>(), 1e-2) << model;
    }
  }
}

TEST(CliGenerate, BadInputsGiveClearErrors) {
  std::string out;
  EXPECT_EQ(testing::run_command(omni_cmd("generate -m /nonexistent.gguf -p hi"), &out, true), 1);
  EXPECT_NE(out.find("/nonexistent.gguf"), std::string::npos) << out;

  const std::string m = testing::refdata("llm/models/stories260K.gguf");
  EXPECT_EQ(testing::run_command(omni_cmd("generate -m " + m + " -p ''"), &out, true), 1);
  EXPECT_NE(out.find("empty"), std::string::npos) << out;

  EXPECT_EQ(testing::run_command(omni_cmd("generate -m " + m + " -c 8 -p 'one two three four five six seven eight nine ten'"),
                                 &out, true), 1);
  EXPECT_NE(out.find("context size"), std::string::npos) << out;

  // A GGUF that is not a language model (vocab only: no tensors).
  EXPECT_EQ(testing::run_command(omni_cmd("generate -m " + testing::refdata("llm/vocab/ggml-vocab-gpt-2.gguf") + " -p hi"),
                                 &out, true), 1);
  EXPECT_NE(out.find("architecture"), std::string::npos) << out;

  EXPECT_EQ(testing::run_command(omni_cmd("generate -p hi"), &out, true), 2);  // usage
}

TEST(CliBench, LlmReportsBothPhases) {
  std::string out;
  ASSERT_EQ(testing::run_command(omni_cmd("bench llm -m " + testing::refdata("llm/models/stories260K.gguf") +
                                          " -p 16 -n 8 -r 1 -t 1 --json"),
                                 &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_GT(j["pp"]["tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["tg"]["tokens_per_s"].get<double>(), 0);
  EXPECT_EQ(j["threads"], 1);
}

}  // namespace
}  // namespace omni
