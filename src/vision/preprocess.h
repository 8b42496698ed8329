// Image -> ViT input tensors, per model family, as llama.cpp's mtmd/clip prepares them (so the
// encoder sees exactly llama.cpp's input): its own bicubic and bilinear resizers (no half-pixel
// centres, no antialiasing), aspect-preserving resize with centred padding, mean/std
// normalisation in float32, planar [3][S][S] tiles.
//
//   mlp (LLaVA-1.5):   one S x S tile: bicubic resize keeping the aspect ratio, padded with the
//                      mean colour (mean * 255, truncated).
//   idefics3 (SmolVLM): the image resized (bicubic, aspect kept, black padding) to a grid of
//                      S x S tiles whose longer side is preproc_image_size; the tiles row-major,
//                      then the whole image stretched (bilinear) to S x S as a global view.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "vision/image.h"

namespace omni::vision {

enum class ProjectorType { kMlp, kIdefics3 };

struct PreprocessConfig {
  ProjectorType projector = ProjectorType::kMlp;
  int image_size = 224;          // tile side S
  int preproc_image_size = 0;    // idefics3: longest side of the refined image (0: 4 * S)
  std::array<float, 3> mean{};
  std::array<float, 3> std{1, 1, 1};
};

struct VisionInput {
  int size = 0;                           // tile side S
  std::vector<std::vector<float>> tiles;  // each 3 * S * S floats, planar R, G, B
  int grid_cols = 0, grid_rows = 0;       // idefics3: tiles before the global one (0: none)
};

VisionInput preprocess(const Image& img, const PreprocessConfig& cfg);

// llama.cpp's resizers, exposed for tests.
Image resize_bicubic(const Image& src, int w, int h);
Image resize_bilinear(const Image& src, int w, int h);
// Aspect-preserving bicubic resize into a w x h canvas of `pad` colour, centred.
Image resize_pad(const Image& src, int w, int h, std::array<uint8_t, 3> pad);

}  // namespace omni::vision
