// Vision encoders from llama.cpp `mmproj` GGUF files (general.architecture = clip): a ViT (CLIP
// or SigLIP) and the projector into the LLM's embedding space.
//
// Projector types:
//   mlp       LLaVA-1.5: CLIP ViT with a class token and pre-LN, quick-GELU MLP when
//             clip.use_gelu is false; the class token is dropped after the last stored layer
//             (no post-LN), then mm.0 -> GELU -> mm.2. Files from llama.cpp's legacy converter
//             name fc1 `ffn_down` and fc2 `ffn_up`; this is detected from the shapes.
//   idefics3  SmolVLM: SigLIP ViT (patch bias, no class token, no pre-LN, post-LN, GELU),
//             pixel shuffle by clip.vision.projector.scale_factor, then mm.model.fc (no bias).
// Other types (gemma3, qwen2vl, ...) are refused with an error naming the type; adding one is a
// case in ProjectorType, in the loader and in encode_tile.
//
// Weights: matrices F32, F16 or Q8_0 (through core/kernels matmul); norms, biases and
// embeddings F32 or F16 (widened to float at load). The file stays mapped while the model lives.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/gguf.h"
#include "vision/packed_gemm.h"
#include "vision/preprocess.h"

namespace omni {
class ThreadPool;
}

namespace omni::vision {

struct ClipHparams {
  ProjectorType projector = ProjectorType::kMlp;
  std::string projector_name;
  int image_size = 0;
  int patch_size = 0;
  int n_embd = 0;
  int n_ff = 0;
  int n_head = 0;
  int n_layer = 0;
  float eps = 1e-6f;
  bool use_gelu = true;  // false: quick-GELU in the ViT MLP
  int scale_factor = 0;  // idefics3 pixel shuffle
  int preproc_image_size = 0;
  int n_embd_out = 0;    // projector output width (the LLM's n_embd)
  std::array<float, 3> mean{};
  std::array<float, 3> std{};

  int n_patches_side() const { return image_size / patch_size; }
  int n_patches() const { return n_patches_side() * n_patches_side(); }
  int tokens_per_tile() const;
};

// A weight matrix W (rows = outputs, cols = inputs) in its file type, with an optional bias.
struct Linear {
  DType type = DType::F32;
  const void* w = nullptr;
  int64_t rows = 0, cols = 0;
  std::vector<float> bias;  // empty: none
  PackedWeights packed;     // F32/F16 on levels with the packed GEMM block: w packed at load
};

struct Norm {
  std::vector<float> w, b;
};

struct ClipLayer {
  Norm ln1, ln2;
  Linear q, k, v, o;
  // q, k and v stacked (rows q | k | v, bias likewise) and packed as one product where they
  // pack (same float type): one pass over the activations instead of three. Empty otherwise.
  Linear qkv;
  Linear fc1, fc2;  // n_embd -> n_ff -> n_embd
};

struct ClipWeights {
  Linear patch;                  // rows n_embd, cols 3 * P * P (channel, row, column)
  std::vector<float> class_embd; // mlp only
  std::vector<float> pos_embd;   // n_pos x n_embd
  int n_pos = 0;
  Norm pre_ln, post_ln;          // empty w: absent
  std::vector<ClipLayer> layers;
  Linear mm0, mm2;               // mlp
  Linear mm_fc;                  // idefics3
};

// Encoder output: all tiles' tokens in LLM order.
struct ImageEmbeddings {
  int n_tokens = 0;
  int n_embd = 0;
  std::vector<int> tokens_per_tile;
  std::vector<float> data;  // n_tokens x n_embd, row-major
};

// Time spent, accumulated over calls (for benchmarks).
struct EncodeTimings {
  double vit_ms = 0;      // patch embedding + transformer layers (+ post-LN)
  double project_ms = 0;  // projector (incl. pixel shuffle)
};

class ClipModel {
 public:
  // Throws omni::FormatError (bad file, missing or mis-shaped tensor, unknown projector type,
  // naming it) or omni::Error (I/O, unsupported weight type).
  static std::shared_ptr<ClipModel> load(const std::string& path);

  const ClipHparams& hparams() const { return hp_; }
  const gguf::File& file() const { return file_; }
  PreprocessConfig preprocess_config() const;

  // One preprocessed tile (3 x S x S planar floats) -> tokens_per_tile() x n_embd_out.
  std::vector<float> encode_tile(const float* tile, ThreadPool* pool = nullptr,
                                 EncodeTimings* timings = nullptr) const;
  // All tiles of a preprocessed image, concatenated. With a pool of T > 1 threads, groups of T
  // tiles are encoded one tile per thread (the rest with all threads); results are the same
  // either way. The encode keeps its activation scratch per thread across calls (~40 MiB for a
  // LLaVA-1.5 tile), so repeated encodes do not fault in and zero fresh pages. Timings of a
  // group of concurrent tiles are its wall time, split between ViT and projector as the tiles'
  // own times are.
  ImageEmbeddings encode(const VisionInput& in, ThreadPool* pool = nullptr,
                         EncodeTimings* timings = nullptr) const;
  // Decode-free convenience: preprocess + encode.
  ImageEmbeddings encode(const Image& img, ThreadPool* pool = nullptr) const;

  // Strassen recursion of the packed projections (vision/packed_gemm.h). Default: one
  // level on products large enough, or the level count in the environment variable
  // OMNI_VISION_STRASSEN (0-2) at load. Not to be changed while an encode runs.
  const StrassenConfig& strassen() const { return strassen_; }
  void set_strassen(const StrassenConfig& c) { strassen_ = c; }
  // Bytes of the weights packed at load (the file's pages of those tensors are released).
  size_t packed_bytes() const;

 private:
  ClipModel(gguf::File f) : file_(std::move(f)) {}
  // encode_tile into out (tokens_per_tile() x n_embd_out floats).
  void encode_tile_to(const float* tile, float* out, ThreadPool* pool, EncodeTimings* timings) const;
  gguf::File file_;
  ClipHparams hp_;
  ClipWeights w_;
  StrassenConfig strassen_;
};

}  // namespace omni::vision
