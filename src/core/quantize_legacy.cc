// ggml's reference quantizers of the 32-element formats (quantize_row_q4_0_ref ... q8_1_ref).

#include "core/quant_impl.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

namespace omni::quant_impl {
namespace {

void quant_q4_0(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK4_0) {
    float amax = 0.0f, max = 0.0f;  // max: the signed value of largest magnitude (first wins)
    for (int j = 0; j < QK4_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_0 b;
    b.d = f2h(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[j + QK4_0 / 2] * id;
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_i32(x0 + 8.5f))));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_i32(x1 + 8.5f))));
      b.qs[j] = static_cast<uint8_t>(static_cast<uint8_t>(q0) | (static_cast<uint8_t>(q1) << 4));
    }
    store(dst, i, b);
  }
}

void quant_q4_1(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK4_1) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK4_1; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ4_1 b;
    b.d = f2h(d);
    b.m = f2h(min);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const float x0 = (x[j] - min) * id;
      const float x1 = (x[j + QK4_1 / 2] - min) * id;
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_i32(x0 + 0.5f))));
      const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(trunc_i32(x1 + 0.5f))));
      b.qs[j] = static_cast<uint8_t>(static_cast<uint8_t>(q0) | (static_cast<uint8_t>(q1) << 4));
    }
    store(dst, i, b);
  }
}

void quant_q5_0(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK5_0) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK5_0; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ5_0 b;
    b.d = f2h(d);
    uint32_t qh = 0;
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const float x0 = x[j] * id;
      const float x1 = x[j + QK5_0 / 2] * id;
      const auto q0 = static_cast<uint8_t>(
          std::min(31, static_cast<int>(static_cast<int8_t>(trunc_i32(x0 + 16.5f)))));
      const auto q1 = static_cast<uint8_t>(
          std::min(31, static_cast<int>(static_cast<int8_t>(trunc_i32(x1 + 16.5f)))));
      b.qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + QK5_0 / 2);
    }
    std::memcpy(b.qh, &qh, sizeof qh);
    store(dst, i, b);
  }
}

void quant_q5_1(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK5_1) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK5_1; ++j) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ5_1 b;
    b.d = f2h(d);
    b.m = f2h(min);
    uint32_t qh = 0;
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const float x0 = (x[j] - min) * id;
      const float x1 = (x[j + QK5_1 / 2] - min) * id;
      const auto q0 = static_cast<uint8_t>(trunc_i32(x0 + 0.5f));  // no clamp, as in ggml
      const auto q1 = static_cast<uint8_t>(trunc_i32(x1 + 0.5f));
      b.qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= ((q0 & 0x10u) >> 4) << j;
      qh |= ((q1 & 0x10u) >> 4) << (j + QK5_1 / 2);
    }
    std::memcpy(b.qh, &qh, sizeof qh);
    store(dst, i, b);
  }
}

// Q8_0 / Q8_1: d = amax / 127, q = roundf(x / d) (ties away from zero).
void quant_q8_0(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; ++j) amax = max_like_ggml(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 b;
    b.d = f2h(d);
    for (int j = 0; j < QK8_0; ++j) {
      b.qs[j] = static_cast<int8_t>(trunc_i32(std::round(x[j] * id)));
    }
    store(dst, i, b);
  }
}

void quant_q8_1(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK8_1) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_1; ++j) amax = max_like_ggml(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_1 b;
    b.d = f2h(d);
    int sum = 0;
    for (int j = 0; j < QK8_1; ++j) {
      b.qs[j] = static_cast<int8_t>(trunc_i32(std::round(x[j] * id)));
      sum += b.qs[j];
    }
    b.s = f2h(static_cast<float>(sum) * d);
    store(dst, i, b);
  }
}

}  // namespace

QuantFn legacy_quantizer(DType t) {
  switch (t) {
    case DType::Q4_0: return quant_q4_0;
    case DType::Q4_1: return quant_q4_1;
    case DType::Q5_0: return quant_q5_0;
    case DType::Q5_1: return quant_q5_1;
    case DType::Q8_0: return quant_q8_0;
    case DType::Q8_1: return quant_q8_1;
    default: return nullptr;
  }
}

}  // namespace omni::quant_impl
