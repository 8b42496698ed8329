// The scalar level: plain C++ for every kernel. It is the fallback on CPUs without AVX2 and the
// behaviour the SIMD levels must reproduce (quantizers bit for bit, dots to rounding).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "core/kernels_impl.h"

// Outside omni::kernels so these names do not collide with the public dispatching API.
namespace omni::kernels_scalar {
namespace {

using kernels::Q8Row;
using kernels::RopeMode;
namespace detail = kernels::detail;

#include "core/kernels_elementwise.inc"

float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float s = 0;
  for (int j = 0; j < 16; ++j) s += acc[j];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f16(const uint16_t* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += fp16_to_fp32(a[i]) * b[i];
  return s;
}

float dot_bf16(const uint16_t* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += bf16_to_fp32(a[i + j]) * b[i + j];
  }
  float s = 0;
  for (int j = 0; j < 16; ++j) s += acc[j];
  for (; i < n; ++i) s += bf16_to_fp32(a[i]) * b[i];
  return s;
}

void quantize_q8(const float* x, int64_t n, int8_t* qs, float* d, float* sd, int32_t* isum) {
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    const float* xb = x + b * QK8_0;
    float amax = 0;
    for (int i = 0; i < QK8_0; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float dd = amax / 127.0f;
    const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
    int sum = 0;
    for (int i = 0; i < QK8_0; ++i) {
      const int q = static_cast<int>(std::nearbyint(xb[i] * id));
      qs[b * QK8_0 + i] = static_cast<int8_t>(q);
      sum += q;
    }
    d[b] = fp16_to_fp32(fp32_to_fp16(dd));
    sd[b] = d[b] * static_cast<float>(sum);
    isum[b] = sum;
  }
}

void quantize_q8_K(const float* x, int64_t n, BlockQ8_K* y) {
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const float* xb = x + b * QK_K;
    float amax = 0, max = 0;
    for (int i = 0; i < QK_K; ++i) {
      const float ax = std::fabs(xb[i]);
      if (ax > amax) {
        amax = ax;
        max = xb[i];
      }
    }
    BlockQ8_K& out = y[b];
    if (amax == 0.0f) {
      std::memset(&out, 0, sizeof(out));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int i = 0; i < QK_K; ++i) {
      const int v = static_cast<int>(std::nearbyint(iscale * xb[i]));
      out.qs[i] = static_cast<int8_t>(std::min(127, v));
    }
    for (int g = 0; g < QK_K / 16; ++g) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += out.qs[16 * g + i];
      out.bsums[g] = static_cast<int16_t>(s);
    }
    out.d = 1.0f / iscale;
  }
}

const Q8Row& q8(const void* act) { return *static_cast<const Q8Row*>(act); }

float dot_q8_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ8_0*>(wv);
  const Q8Row& a = q8(act);
  float s = 0;
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    int sumi = 0;
    for (int i = 0; i < QK8_0; ++i) sumi += w[b].qs[i] * a.qs[b * QK8_0 + i];
    s += fp16_to_fp32(w[b].d) * a.d[b] * static_cast<float>(sumi);
  }
  return s;
}

float dot_q4_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ4_0*>(wv);
  const Q8Row& a = q8(act);
  float s = 0;
  for (int64_t b = 0; b < n / QK4_0; ++b) {
    const int8_t* aq = a.qs + b * QK4_0;
    int sumi = 0;
    for (int i = 0; i < 16; ++i) {
      sumi += ((w[b].qs[i] & 0xF) - 8) * aq[i] + ((w[b].qs[i] >> 4) - 8) * aq[i + 16];
    }
    s += fp16_to_fp32(w[b].d) * a.d[b] * static_cast<float>(sumi);
  }
  return s;
}

float dot_q4_1(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ4_1*>(wv);
  const Q8Row& a = q8(act);
  float s = 0;
  for (int64_t b = 0; b < n / QK4_1; ++b) {
    const int8_t* aq = a.qs + b * QK4_1;
    int sumi = 0;
    for (int i = 0; i < 16; ++i) {
      sumi += (w[b].qs[i] & 0xF) * aq[i] + (w[b].qs[i] >> 4) * aq[i + 16];
    }
    s += fp16_to_fp32(w[b].d) * a.d[b] * static_cast<float>(sumi) + fp16_to_fp32(w[b].m) * a.sd[b];
  }
  return s;
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

float dot_q5_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ5_0*>(wv);
  const Q8Row& a = q8(act);
  float s = 0;
  for (int64_t b = 0; b < n / QK5_0; ++b) {
    const int8_t* aq = a.qs + b * QK5_0;
    const uint32_t qh = load_u32(w[b].qh);
    int sumi = 0;
    for (int i = 0; i < 16; ++i) {
      const int lo = (w[b].qs[i] & 0xF) | static_cast<int>(((qh >> i) & 1u) << 4);
      const int hi = (w[b].qs[i] >> 4) | static_cast<int>(((qh >> (i + 16)) & 1u) << 4);
      sumi += (lo - 16) * aq[i] + (hi - 16) * aq[i + 16];
    }
    s += fp16_to_fp32(w[b].d) * a.d[b] * static_cast<float>(sumi);
  }
  return s;
}

float dot_q5_1(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ5_1*>(wv);
  const Q8Row& a = q8(act);
  float s = 0;
  for (int64_t b = 0; b < n / QK5_1; ++b) {
    const int8_t* aq = a.qs + b * QK5_1;
    const uint32_t qh = load_u32(w[b].qh);
    int sumi = 0;
    for (int i = 0; i < 16; ++i) {
      const int lo = (w[b].qs[i] & 0xF) | static_cast<int>(((qh >> i) & 1u) << 4);
      const int hi = (w[b].qs[i] >> 4) | static_cast<int>(((qh >> (i + 16)) & 1u) << 4);
      sumi += lo * aq[i] + hi * aq[i + 16];
    }
    s += fp16_to_fp32(w[b].d) * a.d[b] * static_cast<float>(sumi) + fp16_to_fp32(w[b].m) * a.sd[b];
  }
  return s;
}

// K-quants: integer sums per super-block, then d * sumi - dmin * summ in float, in this exact
// order at every level so all levels return the same bits.
float dot_q4_K(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ4_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  float s = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    uint8_t sc[8], m[8];
    detail::unpack_scales_k4(w[b].scales, sc, m);
    int sumi = 0;
    for (int j = 0; j < 4; ++j) {
      const uint8_t* q = w[b].qs + 32 * j;
      const int8_t* aq = a[b].qs + 64 * j;
      int lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        lo += (q[l] & 0xF) * aq[l];
        hi += (q[l] >> 4) * aq[l + 32];
      }
      sumi += sc[2 * j] * lo + sc[2 * j + 1] * hi;
    }
    int summ = 0;
    for (int j = 0; j < 8; ++j) summ += m[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
    const float d = fp16_to_fp32(w[b].d) * a[b].d;
    const float dmin = fp16_to_fp32(w[b].dmin) * a[b].d;
    s += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
  }
  return s;
}

float dot_q5_K(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ5_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  float s = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    uint8_t sc[8], m[8];
    detail::unpack_scales_k4(w[b].scales, sc, m);
    int sumi = 0;
    for (int j = 0; j < 4; ++j) {
      const uint8_t* q = w[b].qs + 32 * j;
      const int8_t* aq = a[b].qs + 64 * j;
      int lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        const int h = w[b].qh[l];
        lo += ((q[l] & 0xF) | (((h >> (2 * j)) & 1) << 4)) * aq[l];
        hi += ((q[l] >> 4) | (((h >> (2 * j + 1)) & 1) << 4)) * aq[l + 32];
      }
      sumi += sc[2 * j] * lo + sc[2 * j + 1] * hi;
    }
    int summ = 0;
    for (int j = 0; j < 8; ++j) summ += m[j] * (a[b].bsums[2 * j] + a[b].bsums[2 * j + 1]);
    const float d = fp16_to_fp32(w[b].d) * a[b].d;
    const float dmin = fp16_to_fp32(w[b].dmin) * a[b].d;
    s += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
  }
  return s;
}

float dot_q6_K(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ6_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  float s = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    // Element e (0..255) of the super-block: half h = e/128, l = e%32, quarter k = (e%128)/32.
    int sumi = 0;
    for (int g = 0; g < QK_K / 16; ++g) {
      int sg = 0;
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * g + i;
        const int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
        const uint8_t* ql = w[b].ql + 64 * h;
        const uint8_t* qh = w[b].qh + 32 * h;
        const int low = (k & 1) ? ql[l + 32] : ql[l];
        const int nib = (k & 2) ? (low >> 4) : (low & 0xF);
        const int q = nib | (((qh[l] >> (2 * k)) & 3) << 4);
        sg += (q - 32) * a[b].qs[e];
      }
      sumi += w[b].scales[g] * sg;
    }
    s += fp16_to_fp32(w[b].d) * a[b].d * static_cast<float>(sumi);
  }
  return s;
}

void fp16_to_fp32_row(const uint16_t* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32(x[i]);
}
void fp32_to_fp16_row(const float* x, int64_t n, uint16_t* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}
void bf16_to_fp32_row(const uint16_t* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(x[i]);
}

}  // namespace
}  // namespace omni::kernels_scalar

namespace omni::kernels {

void detail::fill_scalar(KernelTable& t) {
  namespace k = kernels_scalar;
  t.level = CpuLevel::kScalar;
  t.tile4x4_f32 = nullptr;  // batched float products use the dots at this level
  t.tile4x4_f16 = nullptr;
  t.matvec_f16 = nullptr;
  t.gemv64_f16 = nullptr;
  t.dot_f32 = k::dot_f32;
  t.dot_f16 = k::dot_f16;
  t.dot_bf16 = k::dot_bf16;
  t.quantize_q8 = k::quantize_q8;
  t.quantize_q8_K = k::quantize_q8_K;
  t.dot_q8_0 = k::dot_q8_0;
  t.dot_q4_0 = k::dot_q4_0;
  t.dot_q4_1 = k::dot_q4_1;
  t.dot_q5_0 = k::dot_q5_0;
  t.dot_q5_1 = k::dot_q5_1;
  t.dot_q4_K = k::dot_q4_K;
  t.dot_q5_K = k::dot_q5_K;
  t.dot_q6_K = k::dot_q6_K;
  t.rms_norm = k::rms_norm;
  t.layer_norm = k::layer_norm;
  t.softmax = k::softmax;
  t.attn_pv4 = k::attn_pv4;
  t.rope = k::rope;
  t.silu = k::silu;
  t.swiglu = k::swiglu;
  t.gelu_erf = k::gelu_erf;
  t.gelu_tanh = k::gelu_tanh;
  t.add = k::add;
  t.mul = k::mul;
  t.scale = k::scale;
  t.fp16_to_fp32_row = k::fp16_to_fp32_row;
  t.fp32_to_fp16_row = k::fp32_to_fp16_row;
  t.bf16_to_fp32_row = k::bf16_to_fp32_row;
}

}  // namespace omni::kernels
