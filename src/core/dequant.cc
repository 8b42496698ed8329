// ggml's dequantize_row_* for every supported block format, float for float.

#include "core/quant_impl.h"

namespace omni::quant_impl {
namespace {

// Element j < 16 of a 4-bit-per-element 32-element block lives in the low nibble of byte j,
// element j + 16 in the high nibble. The K-quants use the same split per 64 elements.

void deq_q4_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
    const auto b = load<BlockQ4_0>(src, i);
    const float d = h2f(b.d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const int x0 = (b.qs[j] & 0x0F) - 8;
      const int x1 = (b.qs[j] >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + QK4_0 / 2] = static_cast<float>(x1) * d;
    }
  }
}

void deq_q4_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_1) {
    const auto b = load<BlockQ4_1>(src, i);
    const float d = h2f(b.d), m = h2f(b.m);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      y[j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
      y[j + QK4_1 / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

void deq_q5_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK5_0) {
    const auto b = load<BlockQ5_0>(src, i);
    const float d = h2f(b.d);
    uint32_t qh;
    std::memcpy(&qh, b.qh, sizeof qh);
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = static_cast<float>(((b.qs[j] & 0x0F) | h0) - 16) * d;
      y[j + QK5_0 / 2] = static_cast<float>(((b.qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void deq_q5_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK5_1) {
    const auto b = load<BlockQ5_1>(src, i);
    const float d = h2f(b.d), m = h2f(b.m);
    uint32_t qh;
    std::memcpy(&qh, b.qh, sizeof qh);
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = static_cast<float>((b.qs[j] & 0x0F) | h0) * d + m;
      y[j + QK5_1 / 2] = static_cast<float>((b.qs[j] >> 4) | h1) * d + m;
    }
  }
}

void deq_q8_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK8_0) {
    const auto b = load<BlockQ8_0>(src, i);
    const float d = h2f(b.d);
    for (int j = 0; j < QK8_0; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void deq_q8_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK8_1) {
    const auto b = load<BlockQ8_1>(src, i);
    const float d = h2f(b.d);
    for (int j = 0; j < QK8_1; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

// Q2_K: 16 groups of 16; 2-bit quants, byte l of each 32-byte chunk holds four elements 32 apart.
void deq_q2_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ2_K>(src, i);
    const float d = h2f(b.d), dmin = h2f(b.dmin);
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = b.scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) {
            *y++ = dl * static_cast<float>((q[16 * part + l] >> shift) & 3) - ml;
          }
        }
      }
    }
  }
}

void deq_q3_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ3_K>(src, i);
    const float d_all = h2f(b.d);
    int is = 0;
    uint8_t m = 1;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b.qs + 32 * half;
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d_all * static_cast<float>(q3k_scale(b.scales, is++));
          for (int l = 0; l < 16; ++l) {
            const int k = 16 * part + l;
            const int v = ((q[k] >> shift) & 3) - ((b.hmask[k] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

void deq_q4_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ4_K>(src, i);
    const float d = h2f(b.d), dmin = h2f(b.dmin);
    for (int g = 0; g < 4; ++g) {
      const uint8_t* q = b.qs + 32 * g;
      uint8_t sc, m;
      scale_min_k4(2 * g, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(2 * g + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void deq_q5_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ5_K>(src, i);
    const float d = h2f(b.d), dmin = h2f(b.dmin);
    for (int g = 0; g < 4; ++g) {
      const uint8_t* ql = b.qs + 32 * g;
      const uint8_t u1 = static_cast<uint8_t>(1u << (2 * g)), u2 = static_cast<uint8_t>(2u << (2 * g));
      uint8_t sc, m;
      scale_min_k4(2 * g, b.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(2 * g + 1, b.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((b.qh[l] & u1) ? 16 : 0)) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0)) - m2;
      }
    }
  }
}

void deq_q6_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ6_K>(src, i);
    const float d = h2f(b.d);
    for (int half = 0; half < 2; ++half, y += 128) {
      const uint8_t* ql = b.ql + 64 * half;
      const uint8_t* qh = b.qh + 32 * half;
      const int8_t* sc = b.scales + 8 * half;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // ggml evaluates d * scale * q left to right, in float.
        y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void deq_q8_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockQ8_K>(src, i);
    for (int j = 0; j < QK_K; ++j) *y++ = b.d * static_cast<float>(b.qs[j]);
  }
}

void deq_iq4_nl(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_NL) {
    const auto b = load<BlockIQ4_NL>(src, i);
    const float d = h2f(b.d);
    for (int j = 0; j < QK4_NL / 2; ++j) {
      y[j] = d * static_cast<float>(kIQ4NLValues[b.qs[j] & 0xF]);
      y[j + QK4_NL / 2] = d * static_cast<float>(kIQ4NLValues[b.qs[j] >> 4]);
    }
  }
}

void deq_iq4_xs(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load<BlockIQ4_XS>(src, i);
    const float d = h2f(b.d);
    for (int ib = 0; ib < QK_K / 32; ++ib, y += 32) {
      const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                     (((b.scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = b.qs + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIQ4NLValues[qs[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kIQ4NLValues[qs[j] >> 4]);
      }
    }
  }
}

}  // namespace

DeqFn dequantizer(DType t) {
  switch (t) {
    case DType::Q4_0: return deq_q4_0;
    case DType::Q4_1: return deq_q4_1;
    case DType::Q5_0: return deq_q5_0;
    case DType::Q5_1: return deq_q5_1;
    case DType::Q8_0: return deq_q8_0;
    case DType::Q8_1: return deq_q8_1;
    case DType::Q2_K: return deq_q2_K;
    case DType::Q3_K: return deq_q3_K;
    case DType::Q4_K: return deq_q4_K;
    case DType::Q5_K: return deq_q5_K;
    case DType::Q6_K: return deq_q6_K;
    case DType::Q8_K: return deq_q8_K;
    case DType::IQ4_NL: return deq_iq4_nl;
    case DType::IQ4_XS: return deq_iq4_xs;
    default: return nullptr;
  }
}

}  // namespace omni::quant_impl
