// `omni gguf info` run as a subprocess, the way users run it: every refdata model describes
// itself (text and JSON), hostile files end with exit code 1 and a clear message, never a crash.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "testing/refdata.h"

namespace omni {
namespace {

using nlohmann::json;
using omni::testing::binary;
using omni::testing::refdata;
using omni::testing::run_command;

std::string omni_cmd(const std::string& args) {
  std::string cmd = "'";
  cmd.append(binary("omni")).append("' ").append(args);
  return cmd;
}

struct Expected {
  const char* rel;
  const char* format;
  const char* arch;
  uint64_t n_tensors;
  uint64_t n_parameters;  // counted independently from the file (0 = vocab only)
};

// Tensor and parameter counts were computed with a separate script reading the raw files.
const Expected kModels[] = {
    {"llm/models/stories260K.gguf", "gguf", "llama", 48, 292800},
    {"llm/models/tiny-llama-rand-f32.gguf", "gguf", "llama", 21, 4194624},
    {"llm/models/tiny-llama-rand-q8_0.gguf", "gguf", "llama", 21, 4194624},
    {"llm/models/tiny-llama-rand-q4_0.gguf", "gguf", "llama", 21, 4194624},
    {"llm/models/tiny-qwen2-rand-f32.gguf", "gguf", "qwen2", 26, 4899104},
    {"llm/vocab/ggml-vocab-llama-spm.gguf", "gguf", "llama", 0, 0},
    {"llm/vocab/ggml-vocab-gpt-2.gguf", "gguf", "gpt2", 0, 0},
    {"llm/vocab/ggml-vocab-phi-3.gguf", "gguf", "phi3", 0, 0},
    {"llm/vocab/ggml-vocab-bert-bge.gguf", "gguf", "bert", 0, 0},
    {"llm/vocab/ggml-vocab-deepseek-coder.gguf", "gguf", "llama", 0, 0},
    {"vision/models/mmproj-tiny-llava15-rand-f32.gguf", "gguf", "clip", 41, 162560},
    {"vision/models/mmproj-tiny-smolvlm-rand-f32.gguf", "gguf", "clip", 38, 0},
    {"vision/models/tiny-smolvlm-text-rand-f32.gguf", "gguf", "llama", 20, 0},
    {"asr/models/ggml-micro-random-f16.bin", "whisper-ggml", "whisper", 113, 3771776},
    {"asr/models/ggml-micro.en-random-f16.bin", "whisper-ggml", "whisper", 113, 0},
};

TEST(GgufInfoCli, JsonForEveryRefdataModel) {
  for (const auto& m : kModels) {
    SCOPED_TRACE(m.rel);
    const std::string path = refdata(m.rel);
    std::string out;
    ASSERT_EQ(run_command(omni_cmd("gguf info '" + path + "' --json"), &out), 0);
    const json d = json::parse(out);
    EXPECT_EQ(d["file"], path);
    EXPECT_EQ(d["format"], m.format);
    EXPECT_EQ(d["architecture"], m.arch);
    EXPECT_EQ(d["n_tensors"], m.n_tensors);
    ASSERT_EQ(d["tensors"].size(), m.n_tensors);
    uint64_t params = 0, bytes = 0;
    for (const auto& t : d["tensors"]) {
      uint64_t n = 1;
      for (const auto& x : t["shape"]) n *= x.get<uint64_t>();
      EXPECT_EQ(t["n_elements"], n);
      params += n;
      bytes += t["bytes"].get<uint64_t>();
    }
    EXPECT_EQ(d["n_parameters"], params);
    EXPECT_EQ(d["tensor_bytes"], bytes);
    if (m.n_parameters) {
      EXPECT_EQ(params, m.n_parameters);
    }
    uint64_t by_type = 0;
    for (const auto& [type, tot] : d["by_type"].items()) by_type += tot["parameters"].get<uint64_t>();
    EXPECT_EQ(by_type, params);
    EXPECT_TRUE(d["hparams"].is_object());
    EXPECT_FALSE(d["hparams"].empty());
    if (std::string(m.format) == "gguf") {
      EXPECT_EQ(d["version"], 3);
      if (std::string(m.arch) == "clip") {
        EXPECT_TRUE(d["tokenizer"].is_null()) << "projectors carry no tokenizer";
        continue;
      }
      ASSERT_TRUE(d["tokenizer"].is_object());
      for (const char* k : {"model", "pre", "n_tokens", "n_merges", "chat_template",
                            "special_tokens"}) {
        EXPECT_TRUE(d["tokenizer"].contains(k)) << k;
      }
      for (const auto& [k, v] : d["hparams"].items()) {
        EXPECT_EQ(k.rfind(std::string(m.arch) + ".", 0), 0u) << k;
      }
    } else {
      EXPECT_EQ(d["mel_filters"]["n_mel"], 80);
      EXPECT_EQ(d["mel_filters"]["n_fft"], 201);
      EXPECT_EQ(d["vocab"]["n_tokens"], 50257);
      EXPECT_EQ(d["hparams"]["n_text_layer"], 3);
    }
  }
}

TEST(GgufInfoCli, TokenizerSummaries) {
  std::string out;
  ASSERT_EQ(run_command(omni_cmd("gguf info '" + refdata("llm/models/tiny-qwen2-rand-f32.gguf") +
                                 "' --json"),
                        &out),
            0);
  const json d = json::parse(out);
  const json& tok = d["tokenizer"];
  EXPECT_EQ(tok["model"], "gpt2");
  EXPECT_EQ(tok["pre"], "qwen2");
  EXPECT_EQ(tok["n_tokens"], 151936);
  EXPECT_EQ(tok["n_merges"], 151387);
  EXPECT_EQ(tok["special_tokens"]["bos_token_id"], 151643);
  EXPECT_EQ(tok["special_tokens"]["eos_token_id"], 151645);
  EXPECT_EQ(tok["add_bos_token"], false);
  EXPECT_EQ(tok["chat_template"]["present"], true);
  EXPECT_GT(tok["chat_template"]["length"].get<uint64_t>(), 100u);
  // Long arrays are summarized, never dumped.
  EXPECT_LT(out.size(), 20000u);
  const json& tt = tok["other"]["tokenizer.ggml.token_type"];
  EXPECT_EQ(tt["array_of"], "i32");
  EXPECT_EQ(tt["length"], 151936);
  EXPECT_EQ(d["hparams"]["qwen2.rope.freq_base"], 1000000.0);
  EXPECT_EQ(d["hparams"]["qwen2.attention.layer_norm_rms_epsilon"], 1e-6);
}

TEST(GgufInfoCli, HumanOutput) {
  std::string out;
  ASSERT_EQ(run_command(omni_cmd("gguf info '" + refdata("llm/models/tiny-llama-rand-q4_0.gguf") +
                                 "'"),
                        &out),
            0);
  for (const char* s : {"format:        GGUF v3", "architecture:  llama", "llama.block_count",
                        "bos_token_id", "tensors (21):", "blk.0.attn_q.weight", "q4_0",
                        "parameters: 4,194,624", "chat_template"}) {
    EXPECT_NE(out.find(s), std::string::npos) << s << " in:\n" << out;
  }
  ASSERT_EQ(run_command(omni_cmd("gguf info '" + refdata("asr/models/ggml-micro-random-f16.bin") +
                                 "'"),
                        &out),
            0);
  for (const char* s : {"whisper.cpp ggml", "n_audio_state", "mel filters:   80 x 201",
                        "50257 tokens", "decoder.token_embedding.weight", "tensors (113):"}) {
    EXPECT_NE(out.find(s), std::string::npos) << s << " in:\n" << out;
  }
}

class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& bytes) {
    static int n = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("omni_info_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++)))
                .string();
    std::ofstream(path_, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void expect_failure(const std::string& path, const std::vector<std::string>& needles) {
  for (const char* flag : {"", " --json"}) {
    std::string out;
    const int rc = run_command(omni_cmd("gguf info '" + path + "'" + flag), &out, true);
    EXPECT_EQ(rc, 1) << out;
    EXPECT_EQ(out.rfind("omni: error: ", 0), 0u) << out;
    for (const auto& n : needles) EXPECT_NE(out.find(n), std::string::npos) << n << " in: " << out;
  }
}

TEST(GgufInfoCli, HostileFilesFailCleanly) {
  expect_failure("/nonexistent/x.gguf", {"/nonexistent/x.gguf", "cannot open"});
  const auto gguf = omni::testing::read_file(refdata("llm/models/stories260K.gguf"));
  {
    TempFile t({gguf.begin(), gguf.begin() + 5000});
    expect_failure(t.path(), {t.path(), "truncated", "(at byte "});
  }
  {
    auto b = gguf;
    b[16] = 0xff;  // n_kv low byte: far more pairs than the file can hold
    b[23] = 0x7f;
    TempFile t(b);
    expect_failure(t.path(), {"metadata count", "cannot fit", "(at byte 16)"});
  }
  {
    TempFile t(std::vector<uint8_t>{});
    expect_failure(t.path(), {"too short"});
  }
  {
    TempFile t(omni::testing::read_file(refdata("llm/vocab/ggml-vocab-gpt-2.gguf.inp")));
    expect_failure(t.path(), {"neither GGUF", "nor whisper ggml"});
  }
  const auto bin = omni::testing::read_file(refdata("asr/models/ggml-micro-random-f16.bin"));
  {
    TempFile t({bin.begin(), bin.end() - 3});
    expect_failure(t.path(), {"decoder.ln.bias", "extend past end of file"});
  }
}

TEST(GgufInfoCli, UsageErrors) {
  std::string out;
  EXPECT_EQ(run_command(omni_cmd("gguf"), &out, true), 2);
  EXPECT_EQ(run_command(omni_cmd("gguf info"), &out, true), 2);
}

}  // namespace
}  // namespace omni
