// Multi-head self-attention of a ViT (no mask, no positions inside attention). On AVX-512 the two
// products per head run as register-blocked GEMMs fused with the softmax per block of query rows
// (vision/attention_avx512.cc); other levels use dots.
#pragma once

#include <cstdint>

#include "core/kernels.h"

namespace omni {
class ThreadPool;
}

namespace omni::vision {

// For each head h (columns [h * dh, (h + 1) * dh) of the n x d row-major q, k, v, out, with
// dh = d / n_head): out_h = softmax(q_h k_h^T * scale) v_h, rows independent. n, n_head >= 1,
// d a multiple of n_head. Results do not depend on the pool's thread count.
void self_attention(const float* q, const float* k, const float* v, int64_t n, int n_head,
                    int64_t d, float scale, float* out, ThreadPool& pool);
// Same with the rows of q, k and v ld >= d floats apart (out rows stay d apart): q, k, v can be
// column blocks of one fused n x 3d projection output.
void self_attention(const float* q, const float* k, const float* v, int64_t ld, int64_t n,
                    int n_head, int64_t d, float scale, float* out, ThreadPool& pool);
// Same with a given kernel level's table (tests run every level).
void self_attention(const kernels::KernelTable& kt, const float* q, const float* k,
                    const float* v, int64_t n, int n_head, int64_t d, float scale, float* out,
                    ThreadPool& pool);
void self_attention(const kernels::KernelTable& kt, const float* q, const float* k,
                    const float* v, int64_t ld, int64_t n, int n_head, int64_t d, float scale,
                    float* out, ThreadPool& pool);

}  // namespace omni::vision
