#include "vision/gelu_table.h"

#include <cmath>
#include <memory>

#include "core/half.h"

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

void gelu_tanh_f16_table(float* x, int64_t n) {
  const float* t = tables().gelu.get();
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = v <= -10.0f ? 0.0f : v >= 10.0f ? v : t[fp32_to_fp16(v)];
  }
}

void quick_gelu_f16_table(float* x, int64_t n) {
  const float* t = tables().quick.get();
  for (int64_t i = 0; i < n; ++i) x[i] = t[fp32_to_fp16(x[i])];
}

}  // namespace omni::vision
