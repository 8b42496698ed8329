// `omni tokenize` run as a subprocess against the golden tokenizations.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/refdata.h"

namespace {

using omni::testing::binary;
using omni::testing::read_file;
using omni::testing::refdata;
using omni::testing::run_command;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

nlohmann::json golden(const std::string& model) {
  const auto bytes = read_file(refdata("llm/golden/" + model + ".json"));
  return nlohmann::json::parse(std::string(bytes.begin(), bytes.end()));
}

std::vector<int> run_tokenize(const std::string& model, const std::string& flags,
                              const std::string& text) {
  std::string out;
  const std::string cmd = shell_quote(binary("omni")) + " tokenize -m " +
                          shell_quote(refdata("llm/models/" + model + ".gguf")) + " " + flags +
                          " --json -- " + shell_quote(text);
  const int rc = run_command(cmd, &out);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.size(), 1u) << out;  // exactly {"tokens":[...]}
  return j.at("tokens").get<std::vector<int>>();
}

TEST(CliTokenize, MatchesGoldens) {
  for (const char* model : {"stories260K", "tiny-qwen2-rand-f32"}) {
    const auto j = golden(model);
    int checked = 0;
    for (const auto& t : j.at("tokenization")) {
      const std::string text = t.at("text").get<std::string>();
      if (text.empty()) continue;  // the CLI requires a text argument
      EXPECT_EQ(run_tokenize(model, "", text),
                t.at("add_special=true,parse_special=false").get<std::vector<int>>())
          << model << " '" << text << "'";
      EXPECT_EQ(run_tokenize(model, "--no-bos --parse-special", text),
                t.at("add_special=false,parse_special=true").get<std::vector<int>>())
          << model << " '" << text << "'";
      if (++checked == 5 && std::string(model) == "tiny-qwen2-rand-f32") break;  // ~1 s each
    }
    EXPECT_GE(checked, 5);
  }
}

TEST(CliTokenize, ErrorsAreReported) {
  std::string out;
  EXPECT_EQ(run_command(shell_quote(binary("omni")) + " tokenize -m /nonexistent.gguf x", &out,
                        true),
            1);
  EXPECT_NE(out.find("nonexistent.gguf"), std::string::npos) << out;
  EXPECT_EQ(run_command(shell_quote(binary("omni")) + " tokenize x", &out, true), 2);
}

}  // namespace
