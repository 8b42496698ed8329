// omni-gen end to end: generated models load, have the requested shapes and types, are
// deterministic, and run through the engines.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/ggml_file.h"
#include "core/gguf.h"
#include "llm/model.h"
#include "testing/refdata.h"

namespace omni {
namespace {

std::string tmp(const std::string& name) { return ::testing::TempDir() + "omni_gen_" + name; }

int gen(const std::string& args, std::string* out = nullptr) {
  std::string o;
  const int rc = testing::run_command(testing::binary("omni-gen") + " " + args, &o, true);
  if (out) *out = o;
  if (rc != 0) ADD_FAILURE() << "omni-gen " << args << ":\n" << o;
  return rc;
}

TEST(Gen, LlamaShapeTypesAndDeterminism) {
  const std::string vocab = testing::refdata("llm/vocab/ggml-vocab-llama-spm.gguf");
  const std::string a = tmp("llama_a.gguf"), b = tmp("llama_b.gguf");
  ASSERT_EQ(gen("llm --arch llama --layers 3 --embd 64 --heads 4 --kv-heads 2 --ff 128 --untied "
                "--type q8_0 --seed 5 --vocab-from " + vocab + " -o " + a), 0);
  ASSERT_EQ(gen("llm --arch llama --layers 3 --embd 64 --heads 4 --kv-heads 2 --ff 128 --untied "
                "--type q8_0 --seed 5 --vocab-from " + vocab + " -o " + b), 0);
  EXPECT_EQ(testing::read_file(a), testing::read_file(b));

  const auto f = gguf::File::open(a);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.get_int("llama.block_count"), 3);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv"), 2);
  const auto* q = f.tensor("blk.2.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, DType::Q8_0);
  EXPECT_EQ(q->shape, (std::vector<uint64_t>{64, 64}));
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight")->type, DType::F32);
  EXPECT_EQ(f.tensor("output.weight")->type, DType::Q8_0);
  EXPECT_EQ(f.tensor("token_embd.weight")->shape, (std::vector<uint64_t>{64, 32000}));
  // The tokenizer came along verbatim.
  EXPECT_EQ(f.get_array("tokenizer.ggml.tokens")->items.size(), 32000u);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");

  // It runs.
  auto model = llm::Model::load(a);
  llm::Context ctx(model, {.n_ctx = 64});
  const std::vector<int32_t> toks = {1, 100, 200};
  const auto logits = ctx.eval(toks);
  ASSERT_EQ(logits.size(), 32000u);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

TEST(Gen, Qwen3WithHeadDimAndQ4KMix) {
  const std::string vocab = testing::refdata("llm/vocab/ggml-vocab-gpt-2.gguf");
  const std::string p = tmp("qwen3.gguf");
  // head_dim 64 with n_embd 256 and 8 heads: q dim 512 != n_embd, as in Qwen3.
  ASSERT_EQ(gen("llm --preset tiny-qwen3 --embd 256 --heads 8 --kv-heads 4 --head-dim 64 "
                "--ff 512 --layers 8 --vocab 50304 --type q4_K_M --vocab-from " + vocab + " -o " + p), 0);
  const auto f = gguf::File::open(p);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight")->shape, (std::vector<uint64_t>{256, 512}));
  EXPECT_EQ(f.tensor("blk.0.attn_q_norm.weight")->shape, (std::vector<uint64_t>{64}));
  EXPECT_EQ(f.tensor("output.weight"), nullptr);  // tied
  // llama-quantize's Q4_K_M mix: Q6_K for the tied output/embeddings and for attn_v/ffn_down of
  // the "more bits" layers (0 and 7 of 8, and every third after the first eighth), else Q4_K.
  EXPECT_EQ(f.tensor("token_embd.weight")->type, DType::Q6_K);
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight")->type, DType::Q6_K);
  EXPECT_EQ(f.tensor("blk.1.ffn_down.weight")->type, DType::Q4_K);
  EXPECT_EQ(f.tensor("blk.3.attn_v.weight")->type, DType::Q6_K);
  EXPECT_EQ(f.tensor("blk.7.attn_v.weight")->type, DType::Q6_K);
  EXPECT_EQ(f.tensor("blk.2.attn_q.weight")->type, DType::Q4_K);
  // Padded vocabulary: unused tokens appended.
  const auto* toks = f.get_array("tokenizer.ggml.tokens");
  ASSERT_EQ(toks->items.size(), 50304u);
  EXPECT_EQ(*toks->items.back().as_string(), "[PAD50303]");

  auto model = llm::Model::load(p);
  EXPECT_EQ(model->config().head_dim, 64u);
  EXPECT_TRUE(model->config().qk_norm);
  llm::Context ctx(model, {.n_ctx = 32});
  const std::vector<int32_t> in = {10, 20, 30, 40};
  const auto logits = ctx.eval(in);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

TEST(Gen, Qwen2FallsBackWhereKQuantsDoNotFit) {
  const std::string vocab = testing::refdata("llm/vocab/ggml-vocab-gpt-2.gguf");
  const std::string p = tmp("qwen2.gguf");
  // n_embd 96 is not a multiple of 256: Q4_K becomes Q5_0 and Q6_K becomes Q8_0, as
  // llama-quantize does for Qwen2-0.5B (n_embd 896).
  ASSERT_EQ(gen("llm --preset tiny-qwen2 --embd 96 --heads 4 --kv-heads 2 --ff 512 --type q4_K_M "
                "--vocab-from " + vocab + " -o " + p), 0);
  const auto f = gguf::File::open(p);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight")->type, DType::Q5_0);
  EXPECT_EQ(f.tensor("blk.0.attn_q.bias")->type, DType::F32);
  EXPECT_EQ(f.tensor("token_embd.weight")->type, DType::Q8_0);
  // ffn_down rows are 512 long, so K-quants fit: layer 1 of 2 is a "more bits" layer.
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight")->type, DType::Q4_K);
  EXPECT_EQ(f.tensor("blk.1.ffn_down.weight")->type, DType::Q6_K);
  auto model = llm::Model::load(p);
  EXPECT_TRUE(model->config().qkv_bias);
}

TEST(Gen, BadRequestsFailClearly) {
  const std::string vocab = testing::refdata("llm/vocab/ggml-vocab-gpt-2.gguf");
  std::string out;
  EXPECT_NE(testing::run_command(testing::binary("omni-gen") + " llm --preset nope --vocab-from " +
                                     vocab + " -o " + tmp("x.gguf"), &out, true), 0);
  EXPECT_NE(out.find("unknown preset"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(testing::binary("omni-gen") + " llm --arch llama --embd 48 "
                                     "--heads 4 --kv-heads 2 --type q4_0 --pure --vocab-from " +
                                     vocab + " -o " + tmp("x.gguf"), &out, true), 0);
  EXPECT_NE(out.find("not a multiple"), std::string::npos) << out;
  EXPECT_NE(testing::run_command(testing::binary("omni-gen") + " llm --arch mamba --vocab-from " +
                                     vocab + " -o " + tmp("x.gguf"), &out, true), 0);
  EXPECT_NE(out.find("unknown architecture"), std::string::npos) << out;
}

TEST(Gen, WhisperShapesFiltersAndVocab) {
  const std::string src = testing::refdata("asr/models/ggml-micro.en-random-f16.bin");
  const std::string p = tmp("whisper.bin");
  ASSERT_EQ(gen("whisper --preset whisper-tiny.en --audio-state 64 --audio-heads 2 --text-state 64 "
                "--text-heads 2 --audio-layers 1 --text-layers 2 --type q8_0 --vocab-from " + src +
                " -o " + p), 0);
  const auto f = ggml::File::open(p);
  const auto ref = ggml::File::open(src);
  EXPECT_EQ(f.hparams().n_vocab, 51864);
  EXPECT_EQ(f.hparams().n_text_layer, 2);
  EXPECT_EQ(f.hparams().weight_type(), DType::Q8_0);
  EXPECT_EQ(f.vocab(), ref.vocab());
  // Our Slaney mel bank equals the one whisper.cpp ships (to float rounding).
  ASSERT_EQ(f.mel_filters().data.size(), ref.mel_filters().data.size());
  double max_diff = 0;
  for (size_t i = 0; i < f.mel_filters().data.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(double{f.mel_filters().data[i]} - ref.mel_filters().data[i]));
  }
  EXPECT_LT(max_diff, 1e-6);
  EXPECT_EQ(f.tensor("encoder.conv1.weight")->shape, (std::vector<uint64_t>{3, 80, 64}));
  EXPECT_EQ(f.tensor("encoder.conv1.weight")->type, DType::F16);
  EXPECT_EQ(f.tensor("decoder.blocks.1.cross_attn.query.weight")->type, DType::Q8_0);
  EXPECT_EQ(f.tensor("decoder.token_embedding.weight")->shape, (std::vector<uint64_t>{64, 51864}));
  EXPECT_EQ(f.tensor("encoder.blocks.0.attn.key.bias"), nullptr);
  // Same tensor set as a whisper.cpp file of the same depth.
  size_t expected = 0;
  for (const auto& t : ref.tensors()) {
    if (t.name.find("encoder.blocks.1.") == 0 || t.name.find("decoder.blocks.2.") == 0) continue;
    ++expected;
    EXPECT_NE(f.tensor(t.name), nullptr) << t.name;
  }
  EXPECT_EQ(f.tensors().size(), expected);

  // large-v3: 128 mel bins.
  const std::string v3 = tmp("whisper_v3.bin");
  ASSERT_EQ(gen("whisper --preset whisper-large-v3 --audio-state 64 --audio-heads 2 --text-state 64 "
                "--text-heads 2 --audio-layers 1 --text-layers 1 --audio-ctx 16 --vocab-from " +
                src + " -o " + v3), 0);
  const auto g = ggml::File::open(v3);
  EXPECT_EQ(g.hparams().n_mels, 128);
  EXPECT_EQ(g.hparams().n_vocab, 51866);
  EXPECT_EQ(g.mel_filters().n_mel, 128);
  EXPECT_EQ(g.tensor("encoder.conv1.weight")->shape, (std::vector<uint64_t>{3, 128, 64}));
}

}  // namespace
}  // namespace omni
