#include "vision/gelu_table.h"

#include "core/intrinsics.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/half.h"
#include "core/kernels.h"

namespace omni::vision {
namespace {

// Results widened back to float once, so a lookup is one conversion of the input and one load.
struct Tables {
  std::unique_ptr<float[]> gelu{new float[65536]};
  std::unique_ptr<float[]> quick{new float[65536]};
  Tables() {
    for (uint32_t i = 0; i < 65536; ++i) {
      const float f = fp16_to_fp32(static_cast<uint16_t>(i));
      const float g = 0.5f * f * (1.0f + std::tanh(0.797884561f * f * (1.0f + 0.044715f * f * f)));
      const float q = f * (1.0f / (1.0f + std::exp(-1.702f * f)));
      gelu[i] = fp16_to_fp32(fp32_to_fp16(g));
      quick[i] = fp16_to_fp32(fp32_to_fp16(q));
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

// The inputs are rounded to f16 a block at a time by the level's vector conversion (nearest
// even, as the scalar one), which was most of the cost of a lookup; the loads stay scalar.
constexpr int64_t kBlock = 512;

void lookup_blocks(const float* t, bool clamp, float* x, int64_t n) {
  uint16_t h[kBlock];
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t c = std::min(kBlock, n - i0);
    float* xb = x + i0;
    kernels::fp32_to_fp16_row(xb, c, h);
    if (clamp) {
      for (int64_t i = 0; i < c; ++i) {
        const float v = xb[i];
        xb[i] = v <= -10.0f ? 0.0f : v >= 10.0f ? v : t[h[i]];
      }
    } else {
      for (int64_t i = 0; i < c; ++i) xb[i] = t[h[i]];
    }
  }
}

// AVX-512: 16 inputs rounded to f16 in one instruction and looked up with one gather (the
// table is 256 KiB, L2-resident while a layer's activations stream through).
__attribute__((target("avx512f"))) void lookup_avx512(const float* t, bool clamp, float* x,
                                                       int64_t n) {
  const __m512 lo = _mm512_set1_ps(-10.0f), hi = _mm512_set1_ps(10.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? static_cast<__mmask16>(0xFFFF)
                                    : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    const __m512i idx = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    __m512 y = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, t, 4);
    if (clamp) {
      y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(v, hi, _CMP_GE_OQ), v);
      y = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, lo, _CMP_GT_OQ) |
                                  _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), y);
    }
    _mm512_mask_storeu_ps(x + i, k, y);
  }
}

void lookup(CpuLevel level, const float* t, bool clamp, float* x, int64_t n) {
  if (level >= CpuLevel::kAvx512) {
    lookup_avx512(t, clamp, x, n);
  } else {
    lookup_blocks(t, clamp, x, n);
  }
}

}  // namespace

void gelu_tanh_f16_table(float* x, int64_t n, CpuLevel level) {
  lookup(level, tables().gelu.get(), true, x, n);
}

void quick_gelu_f16_table(float* x, int64_t n, CpuLevel level) {
  lookup(level, tables().quick.get(), false, x, n);
}

void gelu_tanh_f16_table(float* x, int64_t n) { gelu_tanh_f16_table(x, n, cpu_level()); }

void quick_gelu_f16_table(float* x, int64_t n) { quick_gelu_f16_table(x, n, cpu_level()); }

}  // namespace omni::vision
