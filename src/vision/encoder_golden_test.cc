// llama.cpp (mtmd) goldens: preprocessed tiles (input.f32) and projector output (embd.f32) for
// the LLaVA-1.5 (mlp) and SmolVLM (idefics3) random-weight mmprojs on three real images.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "core/gguf.h"
#include "core/thread_pool.h"
#include "testing/refdata.h"
#include "vision/clip_model.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace omni::vision {
namespace {

using omni::testing::read_f32;
using omni::testing::read_file;
using omni::testing::refdata;

struct Case {
  const char* name;
  const char* mmproj;
  const char* image;
};

const Case kCases[] = {
    {"llava15-rocket", "mmproj-tiny-llava15-rand-f32.gguf", "rocket.jpg"},
    {"llava15-horse", "mmproj-tiny-llava15-rand-f32.gguf", "horse.png"},
    {"llava15-camera", "mmproj-tiny-llava15-rand-f32.gguf", "camera.png"},
    {"smolvlm-rocket", "mmproj-tiny-smolvlm-rand-f32.gguf", "rocket.jpg"},
    {"smolvlm-horse", "mmproj-tiny-smolvlm-rand-f32.gguf", "horse.png"},
    {"smolvlm-camera", "mmproj-tiny-smolvlm-rand-f32.gguf", "camera.png"},
};

float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

class VisionGolden : public ::testing::TestWithParam<Case> {};

TEST_P(VisionGolden, PreprocessingEqualsLlamaCpp) {
  const Case& c = GetParam();
  const auto model = ClipModel::load(refdata(std::string("vision/models/") + c.mmproj));
  const Image img = load_image(refdata(std::string("vision/images/") + c.image));
  const VisionInput in = preprocess(img, model->preprocess_config());
  const auto want = read_f32(refdata(std::string("vision/golden/") + c.name + "/input.f32"));
  const size_t per = static_cast<size_t>(3) * in.size * in.size;
  ASSERT_EQ(in.tiles.size() * per, want.size());
  for (size_t t = 0; t < in.tiles.size(); ++t) {
    EXPECT_LE(max_abs_diff(in.tiles[t].data(), want.data() + t * per, per), 1e-6f) << "tile " << t;
  }
}

TEST_P(VisionGolden, EmbeddingsMatchLlamaCpp) {
  const Case& c = GetParam();
  const auto model = ClipModel::load(refdata(std::string("vision/models/") + c.mmproj));
  const bool llava = model->hparams().projector == ProjectorType::kMlp;
  const auto input = read_f32(refdata(std::string("vision/golden/") + c.name + "/input.f32"));
  const auto want = read_f32(refdata(std::string("vision/golden/") + c.name + "/embd.f32"));
  VisionInput in;
  in.size = model->hparams().image_size;
  const size_t per = static_cast<size_t>(3) * in.size * in.size;
  for (size_t off = 0; off < input.size(); off += per) {
    in.tiles.emplace_back(input.begin() + static_cast<long>(off), input.begin() + static_cast<long>(off + per));
  }
  ThreadPool pool(2);
  const ImageEmbeddings e = model->encode(in, &pool);
  ASSERT_EQ(e.n_embd, 64);
  ASSERT_EQ(e.data.size(), want.size());
  const float d = max_abs_diff(e.data.data(), want.data(), want.size());
  EXPECT_LE(d, llava ? 1e-4f : 5e-4f);
  std::printf("[ measured ] %s embd max_abs %.3g\n", c.name, static_cast<double>(d));
  // End to end from the file, through our decoder and preprocessing.
  const ImageEmbeddings e2 = model->encode(load_image(refdata(std::string("vision/images/") + c.image)), &pool);
  ASSERT_EQ(e2.data.size(), want.size());
  EXPECT_LE(max_abs_diff(e2.data.data(), want.data(), want.size()), llava ? 1e-4f : 5e-4f);
  EXPECT_EQ(e2.n_tokens, static_cast<int>(want.size() / 64));
}

// The tiny files are below the default Strassen thresholds: force the recursion on every
// product whose shape allows it (fc1 and the LLaVA projector at 2 levels) and hold it to the
// same tolerance.
TEST_P(VisionGolden, EmbeddingsMatchLlamaCppWithStrassen) {
  const Case& c = GetParam();
  const auto model = ClipModel::load(refdata(std::string("vision/models/") + c.mmproj));
  StrassenConfig cfg;
  cfg.max_levels = 2;
  cfg.min_m = 1;
  cfg.min_k = 1;
  cfg.min_k2 = 1;
  model->set_strassen(cfg);
  const bool llava = model->hparams().projector == ProjectorType::kMlp;
  const auto want = read_f32(refdata(std::string("vision/golden/") + c.name + "/embd.f32"));
  ThreadPool pool(2);
  const ImageEmbeddings e = model->encode(load_image(refdata(std::string("vision/images/") + c.image)), &pool);
  ASSERT_EQ(e.data.size(), want.size());
  const float d = max_abs_diff(e.data.data(), want.data(), want.size());
  EXPECT_LE(d, llava ? 1e-4f : 5e-4f);
  std::printf("[ measured ] %s embd max_abs %.3g (Strassen forced)\n", c.name, static_cast<double>(d));
}

INSTANTIATE_TEST_SUITE_P(Refdata, VisionGolden, ::testing::ValuesIn(kCases),
                         [](const auto& p) {
                           std::string s = p.param.name;
                           for (char& ch : s) ch = ch == '-' ? '_' : ch;
                           return s;
                         });

TEST(VisionGolden, ThreadCountDoesNotChangeResults) {
  const auto model = ClipModel::load(refdata("vision/models/mmproj-tiny-smolvlm-rand-f32.gguf"));
  const Image img = load_image(refdata("vision/images/horse.png"));
  ThreadPool one(1), two(2);
  EXPECT_EQ(model->encode(img, &one).data, model->encode(img, &two).data);
}

// The LayerNorms and fc1 / mm.0 write the Strassen sums of the next product's input
// (StrassenConfig::producer_sums): the same bits as the products forming them themselves.
TEST(VisionGolden, ProducerSumsDoNotChangeResults) {
  for (const char* f : {"mmproj-tiny-llava15-rand-f32.gguf", "mmproj-tiny-smolvlm-rand-f32.gguf"}) {
    const auto model = ClipModel::load(refdata(std::string("vision/models/") + f));
    const Image img = load_image(refdata("vision/images/rocket.jpg"));
    ThreadPool pool(2);
    StrassenConfig cfg;
    cfg.min_m = 1;
    cfg.min_k = 1;
    cfg.min_k2 = 1;
    model->set_strassen(cfg);
    const ImageEmbeddings with = model->encode(img, &pool);
    cfg.producer_sums = false;
    model->set_strassen(cfg);
    EXPECT_EQ(with.data, model->encode(img, &pool).data) << f;
  }
}

// A copy of a refdata mmproj with edits, written to a temporary file.
std::string edited_copy(const std::string& src, const std::string& tag,
                        const std::function<void(gguf::Writer&, const gguf::File&)>& edit,
                        const std::string& drop_tensor = "") {
  const gguf::File f = gguf::File::open(src);
  gguf::Writer w(f.version());
  for (const auto& kv : f.metadata()) w.set(kv.key, kv.value);
  for (const auto& t : f.tensors()) {
    if (t.name != drop_tensor) w.add_tensor(t.name, t.type, t.shape, t.bytes());
  }
  edit(w, f);
  const auto path = (std::filesystem::temp_directory_path() / ("omni_vision_" + tag + ".gguf")).string();
  w.write(path);
  return path;
}

void expect_load_error(const std::string& path, const std::string& needle) {
  try {
    ClipModel::load(path);
    ADD_FAILURE() << "loaded, wanted error: " << needle;
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(ClipModelLoad, ClearErrors) {
  const std::string smol = refdata("vision/models/mmproj-tiny-smolvlm-rand-f32.gguf");
  const std::string llava = refdata("vision/models/mmproj-tiny-llava15-rand-f32.gguf");
  auto none = [](gguf::Writer&, const gguf::File&) {};
  expect_load_error(edited_copy(smol, "gemma3", [](gguf::Writer& w, const gguf::File&) {
                      w.set("clip.projector_type", gguf::make_string("gemma3"));
                    }),
                    "projector type \"gemma3\" is not supported");
  expect_load_error(edited_copy(smol, "nofc", none, "mm.model.fc.weight"), "missing tensor mm.model.fc.weight");
  expect_load_error(edited_copy(llava, "noq", none, "v.blk.1.attn_q.weight"), "missing tensor v.blk.1.attn_q.weight");
  expect_load_error(edited_copy(llava, "nocls", none, "v.class_embd"), "missing tensor v.class_embd");
  expect_load_error(edited_copy(smol, "arch", [](gguf::Writer& w, const gguf::File&) {
                      w.set("general.architecture", gguf::make_string("llama"));
                    }),
                    "expected \"clip\"");
  expect_load_error(edited_copy(smol, "patch", [](gguf::Writer& w, const gguf::File&) {
                      w.set("clip.vision.patch_size", gguf::make_u32(15));
                    }),
                    "not a multiple of patch_size");
  EXPECT_THROW(ClipModel::load(refdata("vision/images/horse.png")), FormatError);
}

}  // namespace
}  // namespace omni::vision
