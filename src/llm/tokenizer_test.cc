// Conformance of the tokenizers with llama.cpp: the vocab/*.inp/.out pairs of its
// test-tokenizer-0 and the golden tokenizations (all four add_special/parse_special modes,
// pieces, detokenize) of every golden model. Exact equality throughout.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/gguf.h"
#include "llm/vocab.h"
#include "testing/refdata.h"

namespace omni::llm {
namespace {

using omni::testing::read_file;
using omni::testing::refdata;

// Vocabularies are shared between tests: the Qwen2 one takes a moment to build.
const Vocab& vocab_for(const std::string& rel) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Vocab>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[rel];
  if (!slot) {
    const auto file = gguf::File::open(refdata(rel));
    slot = std::make_unique<Vocab>(Vocab::from_gguf(file));
  }
  return *slot;
}

std::string as_string(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

std::string from_hex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  }
  return out;
}

std::string to_hex(const std::string& s) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += k[c >> 4];
    out += k[c & 15];
  }
  return out;
}

std::string ids_str(const std::vector<TokenId>& ids) {
  std::ostringstream o;
  for (size_t i = 0; i < ids.size(); ++i) o << (i ? " " : "") << ids[i];
  return o.str();
}

struct ConformanceCase {
  const char* name;
  const char* vocab;  // GGUF holding the vocabulary
  const char* data;   // prefix of the .inp/.out pair
};

class VocabConformance : public ::testing::TestWithParam<ConformanceCase> {};

TEST_P(VocabConformance, MatchesLlamaCpp) {
  const auto& c = GetParam();
  const Vocab& vocab = vocab_for(c.vocab);
  const std::string inp = as_string(read_file(refdata(std::string(c.data) + ".inp")));
  const std::string out = as_string(read_file(refdata(std::string(c.data) + ".out")));

  // Same reading as llama.cpp's test-tokenizer-0: texts separated by the marker line.
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0;;) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::string> expected;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) expected.push_back(line);
  ASSERT_EQ(texts.size(), expected.size());
  ASSERT_GT(texts.size(), 40u);

  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = vocab.tokenize(texts[i], false, false);
    // The .out lines carry a leading space before every id.
    std::string want = expected[i];
    while (!want.empty() && want.front() == ' ') want.erase(0, 1);
    EXPECT_EQ(ids_str(ids), want) << c.name << " text #" << i << " hex " << to_hex(texts[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Vocab, VocabConformance,
    ::testing::Values(
        ConformanceCase{"llama_spm", "llm/vocab/ggml-vocab-llama-spm.gguf",
                        "llm/vocab/ggml-vocab-llama-spm.gguf"},
        ConformanceCase{"phi3", "llm/vocab/ggml-vocab-phi-3.gguf",
                        "llm/vocab/ggml-vocab-phi-3.gguf"},
        ConformanceCase{"gpt2", "llm/vocab/ggml-vocab-gpt-2.gguf",
                        "llm/vocab/ggml-vocab-gpt-2.gguf"},
        ConformanceCase{"bert_bge", "llm/vocab/ggml-vocab-bert-bge.gguf",
                        "llm/vocab/ggml-vocab-bert-bge.gguf"},
        ConformanceCase{"deepseek_coder", "llm/vocab/ggml-vocab-deepseek-coder.gguf",
                        "llm/vocab/ggml-vocab-deepseek-coder.gguf"},
        ConformanceCase{"qwen2", "llm/models/tiny-qwen2-rand-f32.gguf",
                        "llm/vocab/ggml-vocab-qwen2.gguf"}),
    [](const auto& p) { return std::string(p.param.name); });

class GoldenTokenization : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenTokenization, MatchesLlamaCpp) {
  const std::string model = GetParam();
  const Vocab& vocab = vocab_for("llm/models/" + model + ".gguf");
  const auto j = nlohmann::json::parse(
      as_string(read_file(refdata("llm/golden/" + model + ".json"))));

  const auto& v = j.at("vocab");
  EXPECT_EQ(vocab.n_tokens(), v.at("n_tokens").get<size_t>());
  EXPECT_EQ(vocab.bos(), v.at("bos").get<int>());
  EXPECT_EQ(vocab.eos(), v.at("eos").get<int>());
  EXPECT_EQ(vocab.add_bos(), v.at("add_bos").get<bool>());
  EXPECT_EQ(vocab.add_eos(), v.at("add_eos").get<bool>());

  const auto& cases = j.at("tokenization");
  ASSERT_GE(cases.size(), 14u);
  for (const auto& t : cases) {
    const std::string text = from_hex(t.at("text_utf8_hex").get<std::string>());
    ASSERT_EQ(text, t.at("text").get<std::string>());
    for (bool add : {true, false}) {
      for (bool parse : {false, true}) {
        const std::string key = std::string("add_special=") + (add ? "true" : "false") +
                                ",parse_special=" + (parse ? "true" : "false");
        const auto want = t.at(key).get<std::vector<TokenId>>();
        EXPECT_EQ(vocab.tokenize(text, add, parse), want) << model << " [" << key << "] '"
                                                          << text << "'";
      }
    }
    const auto ids = t.at("add_special=true,parse_special=false").get<std::vector<TokenId>>();
    const auto pieces_hex = t.at("pieces_hex").get<std::vector<std::string>>();
    ASSERT_EQ(pieces_hex.size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(to_hex(vocab.token_to_piece(ids[i], true, false)), pieces_hex[i])
          << model << " piece of id " << ids[i] << " in '" << text << "'";
    }
    EXPECT_EQ(to_hex(vocab.detokenize(ids, false, false)),
              t.at("detokenize_hex").get<std::string>())
        << model << " detokenize '" << text << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenTokenization,
                         ::testing::Values("stories260K", "tiny-llama-rand-f32",
                                           "tiny-llama-rand-q8_0", "tiny-llama-rand-q4_0",
                                           "tiny-qwen2-rand-f32"),
                         [](const auto& p) {
                           std::string n = p.param;
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

// The prompts' token ids (used for the logits goldens) too.
TEST(GoldenTokenization, PromptTokens) {
  for (const char* model : {"stories260K", "tiny-llama-rand-f32", "tiny-qwen2-rand-f32"}) {
    const Vocab& vocab = vocab_for(std::string("llm/models/") + model + ".gguf");
    const auto j = nlohmann::json::parse(
        as_string(read_file(refdata(std::string("llm/golden/") + model + ".json"))));
    for (const auto& p : j.at("prompts")) {
      const auto want =
          p.at("prompt_tokens(add_special=true,parse_special=true)").get<std::vector<TokenId>>();
      EXPECT_EQ(vocab.tokenize(p.at("prompt").get<std::string>(), true, true), want) << model;
    }
  }
}

}  // namespace
}  // namespace omni::llm
