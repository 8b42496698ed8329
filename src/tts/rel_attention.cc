#include "tts/rel_attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "core/cpu.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,avx512f"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,avx512f")
#endif
namespace omni::tts::attn_avx512 {
#include "tts/rel_attention.inc"
}  // namespace omni::tts::attn_avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace omni::tts {
namespace attn_base {
#include "tts/rel_attention.inc"
}  // namespace attn_base

void rel_attention_head(const float* q, const float* k, const float* v, int t, int hd,
                        float scale, const float* emb_k, const float* emb_v, int window,
                        float* out) {
  static const bool avx512 = cpu_level() >= CpuLevel::kAvx512;
  const size_t n = size_t(t) * size_t(hd);
  std::vector<float> scratch(3 * n + size_t(2 * window + 1) * t + size_t(t) + size_t(hd));
  (avx512 ? attn_avx512::rel_attention_head : attn_base::rel_attention_head)(
      q, k, v, t, hd, scale, emb_k, emb_v, window, out, scratch.data());
}

}  // namespace omni::tts
