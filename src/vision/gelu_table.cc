#include "vision/gelu_table.h"

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

}  // namespace

// The inputs are rounded to f16 a block at a time by the level's vector conversion (nearest
// even, as the scalar one), which was most of the cost of a lookup; the loads stay scalar.
constexpr int64_t kBlock = 512;

void gelu_tanh_f16_table(float* x, int64_t n) {
  const float* t = tables().gelu.get();
  uint16_t h[kBlock];
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t c = std::min(kBlock, n - i0);
    float* xb = x + i0;
    kernels::fp32_to_fp16_row(xb, c, h);
    for (int64_t i = 0; i < c; ++i) {
      const float v = xb[i];
      xb[i] = v <= -10.0f ? 0.0f : v >= 10.0f ? v : t[h[i]];
    }
  }
}

void quick_gelu_f16_table(float* x, int64_t n) {
  const float* t = tables().quick.get();
  uint16_t h[kBlock];
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t c = std::min(kBlock, n - i0);
    float* xb = x + i0;
    kernels::fp32_to_fp16_row(xb, c, h);
    for (int64_t i = 0; i < c; ++i) xb[i] = t[h[i]];
  }
}

}  // namespace omni::vision
