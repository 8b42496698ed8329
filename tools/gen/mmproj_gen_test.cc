// omni-gen mmproj: the real-shape presets load in our vision engine with the shapes and token
// counts of SmolVLM-256M and LLaVA-1.5-7B (one layer here, to keep the files small).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/gguf.h"
#include "testing/refdata.h"
#include "vision/clip_model.h"

namespace omni {
namespace {

std::string tmp(const std::string& name) { return ::testing::TempDir() + "omni_gen_" + name; }

int gen(const std::string& args) {
  std::string o;
  const int rc = testing::run_command(testing::binary("omni-gen") + " " + args, &o, true);
  if (rc != 0) ADD_FAILURE() << "omni-gen " << args << ":\n" << o;
  return rc;
}

TEST(GenMmproj, SmolVlmPresetLoads) {
  const std::string p = tmp("smolvlm.gguf");
  ASSERT_EQ(gen("mmproj --preset smolvlm-256m --layers 1 --type q8_0 -o " + p), 0);
  const auto m = vision::ClipModel::load(p);
  const auto& hp = m->hparams();
  EXPECT_EQ(hp.projector, vision::ProjectorType::kIdefics3);
  EXPECT_EQ(hp.image_size, 512);
  EXPECT_EQ(hp.n_embd, 768);
  EXPECT_EQ(hp.n_embd_out, 576);
  EXPECT_EQ(hp.tokens_per_tile(), 64);
  EXPECT_EQ(hp.preproc_image_size, 2048);
  EXPECT_EQ(m->file().tensor("v.blk.0.attn_q.weight")->type, DType::Q8_0);
  EXPECT_EQ(m->file().tensor("v.patch_embd.weight")->type, DType::F16);
  std::filesystem::remove(p);
}

TEST(GenMmproj, LlavaPresetLoadsWithLegacyNames) {
  const std::string p = tmp("llava.gguf");
  ASSERT_EQ(gen("mmproj --preset llava15-7b --layers 1 -o " + p), 0);
  const auto m = vision::ClipModel::load(p);
  const auto& hp = m->hparams();
  EXPECT_EQ(hp.projector, vision::ProjectorType::kMlp);
  EXPECT_EQ(hp.image_size, 336);
  EXPECT_EQ(hp.n_embd, 1024);
  EXPECT_EQ(hp.n_embd_out, 4096);
  EXPECT_EQ(hp.tokens_per_tile(), 576);
  EXPECT_FALSE(hp.use_gelu);
  // fc1 stored as ffn_down, as llama.cpp's legacy converter writes it.
  EXPECT_EQ(m->file().tensor("v.blk.0.ffn_down.weight")->shape, (std::vector<uint64_t>{1024, 4096}));
  EXPECT_EQ(m->file().tensor("v.blk.0.ffn_down.weight")->type, DType::F16);
  std::filesystem::remove(p);
  std::string out;
  EXPECT_NE(testing::run_command(testing::binary("omni-gen") + " mmproj --preset nope -o " + p, &out, true), 0);
}

}  // namespace
}  // namespace omni
