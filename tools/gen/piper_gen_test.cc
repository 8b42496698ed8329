// omni-gen piper: resizing the refdata tiny voice. Same widths reproduce the template byte for
// byte (every field is re-emitted unchanged); other widths give a voice our engine loads and
// runs with the requested shapes. (Agreement with ONNX Runtime on the medium shape was checked
// by hand: ONNX Runtime cannot run in CI; see docs/BENCHMARKS.md.)
#include <gtest/gtest.h>

#include <cmath>

#include "testing/refdata.h"
#include "tts/onnx.h"
#include "tts/vits.h"

namespace omni {
namespace {

std::string tmp(const std::string& name) { return ::testing::TempDir() + "omni_gen_" + name; }

int gen(const std::string& args) {
  std::string o;
  const int rc = testing::run_command(testing::binary("omni-gen") + " " + args, &o, true);
  if (rc != 0) ADD_FAILURE() << "omni-gen " << args << ":\n" << o;
  return rc;
}

std::vector<int64_t> dims(const tts::onnx::Model& m, const std::string& name) {
  for (const auto& t : m.graph.initializers)
    if (t.name == name) return t.dims;
  ADD_FAILURE() << "no initializer " << name;
  return {};
}

TEST(GenPiper, SameWidthsReproduceTheTemplate) {
  const std::string tiny = testing::refdata("tts/models/tiny.onnx");
  const std::string out = tmp("piper_same.onnx");
  ASSERT_EQ(gen("piper --from " + tiny + " --hidden 32 --filter 64 --decoder 64 -o " + out), 0);
  EXPECT_EQ(testing::read_file(out), testing::read_file(tiny));
}

TEST(GenPiper, ResizedVoiceLoadsAndSpeaks) {
  const std::string tiny = testing::refdata("tts/models/tiny.onnx");
  const std::string a = tmp("piper_a.onnx"), b = tmp("piper_b.onnx");
  const std::string args = "piper --from " + tiny + " --hidden 64 --filter 256 --decoder 128 ";
  ASSERT_EQ(gen(args + "--seed 3 -o " + a), 0);
  ASSERT_EQ(gen(args + "--seed 3 -o " + b), 0);
  EXPECT_EQ(testing::read_file(a), testing::read_file(b));
  const auto json = testing::read_file(a + ".json");
  EXPECT_NE(std::string(json.begin(), json.end()).find("\"hidden_channels\": 64"),
            std::string::npos);

  const auto m = tts::onnx::load_model(a);
  EXPECT_EQ(dims(m, "sid"), (std::vector<int64_t>{256, 64}));
  EXPECT_EQ(dims(m, "enc_p.encoder.attn_layers.0.emb_rel_k"), (std::vector<int64_t>{1, 9, 32}));
  EXPECT_EQ(dims(m, "enc_p.encoder.ffn_layers.0.conv_1.weight"),
            (std::vector<int64_t>{256, 64, 3}));
  EXPECT_EQ(dims(m, "enc_p.proj.weight"), (std::vector<int64_t>{128, 64, 1}));
  EXPECT_EQ(dims(m, "dp.convs.convs_sep.0.weight"), (std::vector<int64_t>{64, 1, 3}));
  EXPECT_EQ(dims(m, "dec.conv_pre.weight"), (std::vector<int64_t>{128, 64, 7}));
  EXPECT_EQ(dims(m, "dec.ups.0.weight"), (std::vector<int64_t>{128, 64, 16}));
  EXPECT_EQ(dims(m, "dec.ups.2.weight"), (std::vector<int64_t>{32, 16, 8}));
  EXPECT_EQ(dims(m, "dec.conv_post.weight"), (std::vector<int64_t>{1, 16, 7}));
  int depthwise = 0;
  for (const auto& n : m.graph.nodes) {
    const auto* g = n.attribute("group");
    if (n.op_type == "Conv" && g && g->i != 1) {
      EXPECT_EQ(g->i, 64) << n.name;
      ++depthwise;
    }
  }
  EXPECT_EQ(depthwise, 12);  // 3 DDSConv layers x (duration predictor + 3 ConvFlows)

  const auto model = tts::VitsModel::load(a);
  EXPECT_EQ(model.hidden_channels(), 64);
  const std::vector<int64_t> ids = {1, 0, 20, 0, 59, 0, 24, 0, 120, 0, 27, 0, 10, 0, 2};
  const auto audio = model.synthesize(ids, tts::VitsOptions{});
  ASSERT_FALSE(audio.empty());
  EXPECT_EQ(audio.size() % 256, 0u);
  for (float x : audio) ASSERT_TRUE(std::isfinite(x) && std::fabs(x) < 1.f);
}

TEST(GenPiper, WidthsMustBeMultiplesOfTheTemplate) {
  std::string o;
  EXPECT_NE(testing::run_command(testing::binary("omni-gen") + " piper --from " +
                                     testing::refdata("tts/models/tiny.onnx") +
                                     " --hidden 48 -o " + tmp("piper_bad.onnx"), &o, true), 0);
  EXPECT_NE(o.find("multiples"), std::string::npos) << o;
}

}  // namespace
}  // namespace omni
