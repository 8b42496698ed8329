// IQ4_NL / IQ4_XS quantization as llama-quantize runs it without an importance matrix.

#include "core/quant_impl.h"

#include <algorithm>
#include <cmath>

namespace omni::quant_impl {
namespace {

// IQ4_NL / IQ4_XS: 4-bit indices into the non-linear codebook kIQ4NLValues. This is what
// llama-quantize runs without an importance matrix (ggml's quantize_iq4_nl / quantize_iq4_xs
// with 7 scale tries and weights x^2; for IQ4_XS the same as quantize_row_iq4_xs_ref).

// Index of the codebook value nearest to x (ties to the upper one), by bisection.
int best_index_iq4(float x) {
  const int8_t* val = kIQ4NLValues;
  if (x <= static_cast<float>(val[0])) return 0;
  if (x >= static_cast<float>(val[15])) return 15;
  int ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int mav = (ml + mu) / 2;
    if (x < static_cast<float>(val[mav])) {
      mu = mav;
    } else {
      ml = mav;
    }
  }
  return x - static_cast<float>(val[mu - 1]) < static_cast<float>(val[mu]) - x ? mu - 1 : mu;
}

// One super-block of `n` elements in sub-blocks of 32 (n = 32 for IQ4_NL, 256 for IQ4_XS).
// Writes the half scale d, the packed indices and, for IQ4_XS, the six-bit sub-block scales.
void quant_iq4_superblock(const float* x, int n, uint16_t* dh, uint8_t* q4, uint16_t* scales_h,
                          uint8_t* scales_l) {
  constexpr int kTries = 7;
  const int8_t* values = kIQ4NLValues;
  uint8_t L[QK_K];
  float scales[QK_K / 32];
  std::memset(q4, 0, static_cast<size_t>(n / 2));
  *dh = f2h(0.f);
  float max_scale = 0, amax_scale = 0;
  const int nsub = n / 32;
  for (int ib = 0; ib < nsub; ++ib) {
    const float* xb = x + 32 * ib;
    uint8_t* Lb = L + 32 * ib;
    float weight[32];
    for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = -max / static_cast<float>(values[0]);
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const int l = best_index_iq4(id * xb[j]);
      Lb[j] = static_cast<uint8_t>(l);
      const float q = static_cast<float>(values[l]);
      sumqx += weight[j] * q * xb[j];
      sumq2 += weight[j] * q * q;
    }
    d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -kTries; itry <= kTries; ++itry) {
      id = static_cast<float>(itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const float q = static_cast<float>(values[best_index_iq4(id * xb[j])]);
        sumqx += weight[j] * q * xb[j];
        sumq2 += weight[j] * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }
  if (nsub > 1) {
    *scales_h = 0;
    const float d = -max_scale / 32;
    *dh = f2h(d);
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < nsub; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      for (int j = 0; j < 32; ++j) {
        L[32 * ib + j] = static_cast<uint8_t>(best_index_iq4(idl * x[32 * ib + j]));
      }
      l += 32;
      const auto l_l = static_cast<uint8_t>(l & 0xF), l_h = static_cast<uint8_t>(l >> 4);
      if (ib % 2 == 0) {
        scales_l[ib / 2] = l_l;
      } else {
        scales_l[ib / 2] = static_cast<uint8_t>(scales_l[ib / 2] | (l_l << 4));
      }
      *scales_h = static_cast<uint16_t>(*scales_h | (l_h << (2 * (ib % 8))));
    }
  } else {
    *dh = f2h(scales[0]);
    const float id = scales[0] != 0.0f ? 1 / scales[0] : 0.f;
    for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(best_index_iq4(id * x[j]));
  }
  for (int i = 0; i < n / 32; ++i) {
    for (int j = 0; j < 16; ++j) {
      q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
    }
  }
}

void quant_iq4_nl(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK4_NL) {
    BlockIQ4_NL b{};
    uint16_t unused_h = 0;
    quant_iq4_superblock(x, QK4_NL, &b.d, b.qs, &unused_h, nullptr);
    store(dst, i, b);
  }
}

void quant_iq4_xs(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    BlockIQ4_XS b{};
    quant_iq4_superblock(x, QK_K, &b.d, b.qs, &b.scales_h, b.scales_l);
    store(dst, i, b);
  }
}

}  // namespace

QuantFn iq4_quantizer(DType t) {
  switch (t) {
    case DType::IQ4_NL: return quant_iq4_nl;
    case DType::IQ4_XS: return quant_iq4_xs;
    default: return nullptr;
  }
}

}  // namespace omni::quant_impl
