// Random-weight mmproj (vision encoder + projector) GGUFs of real shapes, written with the keys
// and tensor names llama.cpp's converters use, for benchmarks: compute cost does not depend on
// the weight values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace omni::gen {

struct MmprojShape {
  std::string projector = "idefics3";  // idefics3 | mlp
  uint32_t image_size = 512;
  uint32_t patch_size = 16;
  uint32_t n_embd = 768;
  uint32_t n_ff = 3072;
  uint32_t n_head = 12;
  uint32_t n_layer = 12;
  uint32_t n_embd_out = 576;    // the LLM's embedding width
  uint32_t mm_hidden = 4096;    // mlp: width of mm.0
  uint32_t scale_factor = 4;    // idefics3
  uint32_t preproc_image_size = 2048;
  float eps = 1e-6f;
};

struct MmprojGenOptions {
  std::string type = "f16";  // matrices: f32 | f16 | q8_0 (patch embedding: f16 unless f32)
  uint64_t seed = 1;
  float stddev = 0.02f;
  std::string name;
};

// smolvlm-256m (SigLIP base/16 at 512 px, idefics3 scale 4 -> 576),
// llava15-7b (CLIP ViT-L/14 at 336 px, 23 stored layers, mlp -> 4096).
std::optional<MmprojShape> mmproj_preset(const std::string& name);

void generate_mmproj(const MmprojShape& shape, const MmprojGenOptions& opts, const std::string& path);

}  // namespace omni::gen
