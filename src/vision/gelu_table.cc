#include "vision/gelu_table.h"

// GCC 12's AVX-512 intrinsic headers start from _mm512_undefined_*() and trip these warnings.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/half.h"
#include "core/kernels.h"
#include "vision/gelu_lookup_avx512.h"

namespace omni::vision {
namespace {

// The scalar path reads results widened back to float (one conversion of the input and one
// load). The AVX-512 path gathers the f16 results themselves: half the cache footprint (128 KiB
// instead of 256 per table), which matters because the lookups run in the GEMM epilogue, where
// the weight stream keeps evicting the table from L2. One padding entry lets a 4-byte gather
// read the last result.
struct Tables {
  std::unique_ptr<float[]> gelu{new float[65536]};
  std::unique_ptr<float[]> quick{new float[65536]};
  std::unique_ptr<uint16_t[]> gelu16{new uint16_t[65537]};
  std::unique_ptr<uint16_t[]> quick16{new uint16_t[65537]};
  Tables() {
    for (uint32_t i = 0; i < 65536; ++i) {
      const float f = fp16_to_fp32(static_cast<uint16_t>(i));
      const float g = 0.5f * f * (1.0f + std::tanh(0.797884561f * f * (1.0f + 0.044715f * f * f)));
      const float q = f * (1.0f / (1.0f + std::exp(-1.702f * f)));
      gelu16[i] = fp32_to_fp16(g);
      quick16[i] = fp32_to_fp16(q);
      gelu[i] = fp16_to_fp32(gelu16[i]);
      quick[i] = fp16_to_fp32(quick16[i]);
    }
    gelu16[65536] = quick16[65536] = 0;
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

// AVX-512: 16 inputs rounded to f16 in one instruction, looked up with one gather.
__attribute__((target("avx512f"))) void lookup_avx512(const uint16_t* t, bool clamp, float* x,
                                                       int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? static_cast<__mmask16>(0xFFFF)
                                    : static_cast<__mmask16>((1u << (n - i)) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    _mm512_mask_storeu_ps(x + i, k, detail::gelu_lookup16(t, clamp, v, k));
  }
}

void lookup(CpuLevel level, const float* t, const uint16_t* t16, bool clamp, float* x,
            int64_t n) {
  if (level >= CpuLevel::kAvx512) {
    lookup_avx512(t16, clamp, x, n);
  } else {
    lookup_blocks(t, clamp, x, n);
  }
}

}  // namespace

void gelu_tanh_f16_table(float* x, int64_t n, CpuLevel level) {
  const Tables& t = tables();
  lookup(level, t.gelu.get(), t.gelu16.get(), true, x, n);
}

void quick_gelu_f16_table(float* x, int64_t n, CpuLevel level) {
  const Tables& t = tables();
  lookup(level, t.quick.get(), t.quick16.get(), false, x, n);
}

namespace detail {
const uint16_t* gelu_tanh_f16_results() { return tables().gelu16.get(); }
const uint16_t* quick_gelu_f16_results() { return tables().quick16.get(); }
}  // namespace detail

void gelu_tanh_f16_table(float* x, int64_t n) { gelu_tanh_f16_table(x, n, cpu_level()); }

void quick_gelu_f16_table(float* x, int64_t n) { quick_gelu_f16_table(x, n, cpu_level()); }

}  // namespace omni::vision
