// GELU (tanh form) and quick-GELU evaluated the way llama.cpp's CPU backend does it: the input
// rounded to f16 (nearest even) indexes a 65536-entry table of results rounded to f16. Used by
// the ViT and projector so that our embeddings follow llama.cpp's to ~1e-5 instead of the ~2e-4
// an exact GELU leaves on SigLIP (the table's rounding is what differs, not the formula).
#pragma once

#include <cstdint>

#include "core/cpu.h"

namespace omni::vision {

// In place over n floats. Tanh GELU: exactly 0 at or below -10 and x itself at or above 10 (the
// table's range), as ggml does.
void gelu_tanh_f16_table(float* x, int64_t n);
// x * sigmoid(1.702 x) through its table (no clamps, as in ggml).
void quick_gelu_f16_table(float* x, int64_t n);
// The same on a given kernel level (results are identical on every level; tests compare them).
// AVX-512 rounds and looks up 16 inputs at a time (vcvtps2ph + gather).
void gelu_tanh_f16_table(float* x, int64_t n, CpuLevel level);
void quick_gelu_f16_table(float* x, int64_t n, CpuLevel level);

}  // namespace omni::vision
