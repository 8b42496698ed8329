// `omni generate`, `omni logits` and `omni bench llm` as a user runs them.
#include <algorithm>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing/model_variants.h"
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

// The remaining bad inputs of the LLM issue, as a user meets them: each exits 1 with a message
// naming the problem (and the file where there is one).
TEST(CliGenerate, BadModelFilesAndPromptsGiveClearErrors) {
  const std::string m = testing::refdata("llm/models/stories260K.gguf");
  std::string out;

  const std::string mamba = testing::write_with_architecture(m, "mamba");
  EXPECT_EQ(testing::run_command(omni_cmd("generate -m " + mamba + " -p hi -n 1"), &out, true), 1);
  std::filesystem::remove(mamba);
  EXPECT_NE(out.find("architecture 'mamba' is not supported"), std::string::npos) << out;

  const std::string cut = testing::write_truncated(m, std::filesystem::file_size(m) - 4096);
  EXPECT_EQ(testing::run_command(omni_cmd("generate -m " + cut + " -p hi -n 1"), &out, true), 1);
  std::filesystem::remove(cut);
  EXPECT_NE(out.find("extends past end of file"), std::string::npos) << out;
  EXPECT_NE(out.find(cut), std::string::npos) << out;

  EXPECT_EQ(testing::run_command(omni_cmd("generate -m " + m + " -p \"$(printf 'caf\\303 ok')\" -n 1"), &out, true), 1);
  EXPECT_NE(out.find("the prompt is not valid UTF-8: byte 0xc3 at offset 3"), std::string::npos) << out;

  EXPECT_EQ(testing::run_command(omni_cmd("logits -m " + m + " -p \"$(printf '\\377')\" --json"), &out, true), 1);
  EXPECT_NE(out.find("not valid UTF-8"), std::string::npos) << out;

  // --ctx-size (alias -c, --ctx) sets the KV cache length.
  EXPECT_EQ(testing::run_command(omni_cmd("generate -m " + m + " --ctx-size 6 -p 'one two three four five six' -n 1"),
                                 &out, true), 1);
  EXPECT_NE(out.find("more than the context size 6"), std::string::npos) << out;
}

TEST(CliGenerate, CtxSizeBoundsTheGeneration) {
  // 4 prompt positions in a context of 12: generation shifts the context instead of failing.
  std::string out;
  ASSERT_EQ(testing::run_command(omni_cmd("generate -m " + testing::refdata("llm/models/stories260K.gguf") +
                                          " --ctx-size 12 -p 'Once upon a time' -n 24 --temp 0 --ignore-eos --json"),
                                 &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["tokens"].size(), 24u);
  EXPECT_EQ(j["finish_reason"], "length");
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
  // Resident memory split by kind (bytes): the binary alone is file-backed, so both are > 0.
  EXPECT_GT(j["memory"]["peak_rss"].get<uint64_t>(), 0u);
  EXPECT_GT(j["memory"]["rss_file"].get<uint64_t>(), 0u);
  EXPECT_GT(j["memory"]["rss_anon"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["memory"]["file_bytes"].get<uint64_t>(),
            std::filesystem::file_size(testing::refdata("llm/models/stories260K.gguf")));
}

TEST(CliBench, LlmReportsGenerationAgainstAGivenCeiling) {
  std::string out;
  ASSERT_EQ(testing::run_command(omni_cmd("bench llm -m " + testing::refdata("llm/models/stories260K.gguf") +
                                          " -p 0 -n 8 -r 1 -t 1 --ceiling 40 --json"),
                                 &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  // stories260K has its own output matrix, so a token reads every tensor but the token
  // embedding (one row of it): 1171200 - 131072 bytes.
  EXPECT_EQ(j["tg"]["bytes_per_token"].get<uint64_t>(), j["weight_bytes"].get<uint64_t>() - 131072u);
  EXPECT_EQ(j["bandwidth"]["source"], "flag");
  EXPECT_EQ(j["bandwidth"]["ceiling_gb_per_s"].get<double>(), 40.0);
  EXPECT_NEAR(j["tg"]["pct_of_ceiling"].get<double>(), 100.0 * j["tg"]["weight_gb_per_s"].get<double>() / 40.0,
              1e-9);
  EXPECT_NE(testing::run_command(omni_cmd("bench llm -m " + testing::refdata("llm/models/stories260K.gguf") +
                                          " -n 1 --ceiling -3"), &out), 0);
}

// The probe runs on both sides of generation (the VM's bandwidth drifts); the higher figure is
// the ceiling, and its 512 MiB buffer is not counted in the model's peak memory.
TEST(CliBench, LlmProbesTheCeilingAroundGeneration) {
  std::string out;
  ASSERT_EQ(testing::run_command(omni_cmd("bench llm -m " + testing::refdata("llm/models/stories260K.gguf") +
                                          " -p 0 -n 8 -r 1 -t 1 --bandwidth --json"),
                                 &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  const auto& b = j["bandwidth"];
  EXPECT_EQ(b["source"], "probe");
  const double before = b["probe_before_tg_gb_per_s"].get<double>(), after = b["probe_after_tg_gb_per_s"].get<double>();
  EXPECT_GT(before, 0.0);
  EXPECT_GT(after, 0.0);
  EXPECT_EQ(b["ceiling_gb_per_s"].get<double>(), std::max(before, after));
  EXPECT_LT(j["memory"]["peak_rss"].get<uint64_t>(), uint64_t{400} << 20);
}

}  // namespace
}  // namespace omni
