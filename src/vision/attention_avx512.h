// Internal: the AVX-512 path of vision/attention.h (attention_avx512.cc). Call only when the
// kernel level is AVX-512 (its table has gemm6x64_f32 and pack64_f32).
#pragma once

#include <cstdint>

#include "core/kernels.h"

namespace omni {
class ThreadPool;
}

namespace omni::vision::detail {

// As vision::self_attention with input rows ld floats apart (out rows d apart).
void self_attention_avx512(const kernels::KernelTable& kt, const float* q, const float* k,
                           const float* v, int64_t ld, int64_t n, int n_head, int64_t d,
                           float scale, float* out, ThreadPool& pool);

}  // namespace omni::vision::detail
