// F16 and Q8_0 mmproj weights: the refdata F32 files with their matrices converted, encoded from
// the golden ViT input, stay close to llama.cpp's F32 output by the margin the weight rounding
// (and, for Q8_0, the int8 activations) allows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/gguf.h"
#include "core/half.h"
#include "core/quant.h"
#include "core/thread_pool.h"
#include "testing/refdata.h"
#include "vision/clip_model.h"

namespace omni::vision {
namespace {

using omni::testing::read_f32;
using omni::testing::refdata;

// Copy of `src` with every 2-D weight matrix (the patch kernel too, when F16) stored as `type`.
std::string converted_copy(const std::string& src, DType type, const std::string& tag) {
  const gguf::File f = gguf::File::open(src);
  gguf::Writer w(f.version());
  for (const auto& kv : f.metadata()) w.set(kv.key, kv.value);
  for (const auto& t : f.tensors()) {
    const bool matrix = t.name.size() > 7 && t.name.compare(t.name.size() - 7, 7, ".weight") == 0 &&
                        (t.shape.size() == 2 || t.name == "v.patch_embd.weight");
    DType to = matrix ? type : DType::F32;
    // Q8_0 for the projection matrices only (embeddings and the patch kernel stay F16, as the
    // loader takes them).
    if (to == DType::Q8_0 && (t.shape.size() != 2 || t.shape[0] % 32 != 0 ||
                              t.name == "v.position_embd.weight")) {
      to = DType::F16;
    }
    if (to == DType::F32) {
      w.add_tensor(t.name, t.type, t.shape, t.bytes());
      continue;
    }
    std::vector<float> x(static_cast<size_t>(t.n_elements));
    std::memcpy(x.data(), t.data, x.size() * sizeof(float));
    const int64_t row = static_cast<int64_t>(t.shape[0]);
    const int64_t rows = t.n_elements / row;
    std::vector<uint8_t> out(static_cast<size_t>(t.n_elements) * 4);
    const size_t n = quantize_tensor(to, x.data(), out.data(), rows, row);
    out.resize(n);
    w.add_tensor(t.name, to, t.shape, out);
  }
  const auto path = (std::filesystem::temp_directory_path() / ("omni_vision_wt_" + tag + ".gguf")).string();
  w.write(path);
  return path;
}

struct Result {
  double max_abs = 0, rms_err = 0, rms_ref = 0;
};

Result run(const std::string& golden_case, const std::string& mmproj, DType type) {
  const std::string path = converted_copy(refdata("vision/models/" + mmproj), type,
                                          golden_case + "_" + std::string(dtype_name(type)));
  const auto model = ClipModel::load(path);
  const auto input = read_f32(refdata("vision/golden/" + golden_case + "/input.f32"));
  const auto want = read_f32(refdata("vision/golden/" + golden_case + "/embd.f32"));
  VisionInput in;
  in.size = model->hparams().image_size;
  const size_t per = static_cast<size_t>(3) * in.size * in.size;
  for (size_t off = 0; off < input.size(); off += per) {
    in.tiles.emplace_back(input.begin() + static_cast<long>(off),
                          input.begin() + static_cast<long>(off + per));
  }
  ThreadPool pool(2);
  const ImageEmbeddings e = model->encode(in, &pool);
  std::filesystem::remove(path);
  Result r;
  EXPECT_EQ(e.data.size(), want.size());
  if (e.data.size() != want.size()) return r;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(e.data[i]) - want[i];
    r.max_abs = std::max(r.max_abs, std::fabs(d));
    r.rms_err += d * d;
    r.rms_ref += static_cast<double>(want[i]) * want[i];
  }
  r.rms_err = std::sqrt(r.rms_err / static_cast<double>(want.size()));
  r.rms_ref = std::sqrt(r.rms_ref / static_cast<double>(want.size()));
  std::printf("[ measured ] %s %s: max_abs %.3g, rms err %.3g (rms of values %.3g)\n",
              golden_case.c_str(), std::string(dtype_name(type)).c_str(), r.max_abs, r.rms_err,
              r.rms_ref);
  return r;
}

TEST(VisionWeightTypes, F16AndQ8_0StayCloseToF32Goldens) {
  const struct {
    const char* golden_case;
    const char* mmproj;
  } cases[] = {{"llava15-horse", "mmproj-tiny-llava15-rand-f32.gguf"},
               {"smolvlm-horse", "mmproj-tiny-smolvlm-rand-f32.gguf"}};
  for (const auto& c : cases) {
    const Result f16 = run(c.golden_case, c.mmproj, DType::F16);
    const Result q8 = run(c.golden_case, c.mmproj, DType::Q8_0);
    // F16 keeps 11 significant bits of each weight, Q8_0 about 8 (and int8 activations): errors
    // of ~1e-3 and ~1e-2 of the values' size; a wrong layout or block would be of order 1.
    EXPECT_LT(f16.rms_err, 2e-3 * f16.rms_ref) << c.golden_case;
    EXPECT_LT(q8.rms_err, 2e-2 * q8.rms_ref) << c.golden_case;
    EXPECT_GT(q8.rms_err, f16.rms_err) << c.golden_case;  // the conversion did happen
  }
}

}  // namespace
}  // namespace omni::vision
