#include "tts/rel_attention.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "core/cpu.h"
#include "core/isa_region.h"

OMNI_ISA_BEGIN("avx2,avx512f")
namespace omni::tts::attn_avx512 {
#include "tts/rel_attention.inc"
}  // namespace omni::tts::attn_avx512
OMNI_ISA_END()

namespace omni::tts {
namespace attn_base {
#include "tts/rel_attention.inc"
}  // namespace attn_base

namespace {

// The head in query blocks of kQb, every sum in the order of rel_attention.inc (ascending d or
// j from 0.f, multiply then add: this file is built without contraction), so the bits equal
// the reference's. The reference's score and probability-times-value loops go through memory
// for every term (one query at a time); here a block's partial sums stay in registers.
// Needs hd % 16 == 0. scratch: 3*t*hd + (2w+1)*t + kQb*tp + kQb*hd floats (tp = t rounded up
// to 16).
constexpr int kQb = 8;

__attribute__((target("avx2,avx512f"))) void head_blocked(
    const float* q, const float* k, const float* v, int t, int hd, float scale,
    const float* emb_k, const float* emb_v, int w, float* out, float* scratch) {
  const size_t n = size_t(t) * size_t(hd);
  const int nr = 2 * w + 1;
  const int tp = (t + 15) / 16 * 16;
  float* qs = scratch;  // [hd][t] scaled queries
  float* qt = qs + n;   // [t][hd] the same, time-major
  float* vt = qt + n;   // [t][hd]
  float* relk = vt + n;
  float* s = relk + size_t(nr) * t;  // [kQb][tp] scores, then probabilities
  float* o = s + size_t(kQb) * tp;   // [kQb][hd]
  for (int d = 0; d < hd; ++d) {
    const float* qr = q + size_t(d) * t;
    const float* vr = v + size_t(d) * t;
    float* qsr = qs + size_t(d) * t;
    for (int i = 0; i < t; ++i) qsr[i] = qr[i] * scale;
    for (int i = 0; i < t; ++i) {
      qt[size_t(i) * hd + d] = qsr[i];
      vt[size_t(i) * hd + d] = vr[i];
    }
  }
  for (size_t i = 0; i < size_t(nr) * t; ++i) relk[i] = 0.f;
  for (int r = 0; r < nr; ++r) {
    const float* e = emb_k + size_t(r) * hd;
    float* rk = relk + size_t(r) * t;
    for (int d = 0; d < hd; ++d) {
      const float ed = e[d];
      const float* qd = qs + size_t(d) * t;
      for (int i = 0; i < t; ++i) rk[i] += qd[i] * ed;
    }
  }
  for (int i0 = 0; i0 < t; i0 += kQb) {
    const int nb = std::min(kQb, t - i0);
    // Rows past the end of the queries repeat the last one (computed, never stored).
    const float* qrow[kQb];
    for (int b = 0; b < kQb; ++b) qrow[b] = qt + size_t(std::min(i0 + b, t - 1)) * hd;
    for (int j0 = 0; j0 < tp; j0 += 16) {
      const __mmask16 m = t - j0 >= 16 ? __mmask16(0xffff) : __mmask16((1u << (t - j0)) - 1);
      __m512 acc[kQb];
#pragma GCC unroll 8
      for (int b = 0; b < kQb; ++b) acc[b] = _mm512_setzero_ps();
      for (int d = 0; d < hd; ++d) {
        const __m512 kv = _mm512_maskz_loadu_ps(m, k + size_t(d) * t + j0);
#pragma GCC unroll 8
        for (int b = 0; b < kQb; ++b) {
          acc[b] = _mm512_add_ps(acc[b], _mm512_mul_ps(_mm512_set1_ps(qrow[b][d]), kv));
        }
      }
#pragma GCC unroll 8
      for (int b = 0; b < kQb; ++b) _mm512_storeu_ps(s + size_t(b) * tp + j0, acc[b]);
    }
    for (int b = 0; b < nb; ++b) {
      const int i = i0 + b;
      float* sc = s + size_t(b) * tp;
      for (int r = -w; r <= w; ++r) {
        const int j = i + r;
        if (j < 0 || j >= t) continue;
        sc[j] += relk[size_t(r + w) * t + i];
      }
      float mx = -INFINITY;
      for (int j = 0; j < t; ++j) mx = sc[j] > mx ? sc[j] : mx;
      float sum = 0.f;
      for (int j = 0; j < t; ++j) {
        sc[j] = std::exp(sc[j] - mx);
        sum += sc[j];
      }
      const float inv = 1.f / sum;
      for (int j = 0; j < t; ++j) sc[j] *= inv;  // p, as the reference computes it
    }
    const float* prow[kQb];
    for (int b = 0; b < kQb; ++b) prow[b] = s + size_t(std::min(b, nb - 1)) * tp;
    for (int d0 = 0; d0 < hd; d0 += 32) {
      const bool two = d0 + 32 <= hd;
      __m512 a0[kQb], a1[kQb];
#pragma GCC unroll 8
      for (int b = 0; b < kQb; ++b) a0[b] = a1[b] = _mm512_setzero_ps();
      if (two) {
        for (int j = 0; j < t; ++j) {
          const float* vj = vt + size_t(j) * hd + d0;
          const __m512 v0 = _mm512_loadu_ps(vj), v1 = _mm512_loadu_ps(vj + 16);
#pragma GCC unroll 8
          for (int b = 0; b < kQb; ++b) {
            const __m512 p = _mm512_set1_ps(prow[b][j]);
            a0[b] = _mm512_add_ps(a0[b], _mm512_mul_ps(p, v0));
            a1[b] = _mm512_add_ps(a1[b], _mm512_mul_ps(p, v1));
          }
        }
      } else {
        for (int j = 0; j < t; ++j) {
          const __m512 v0 = _mm512_loadu_ps(vt + size_t(j) * hd + d0);
#pragma GCC unroll 8
          for (int b = 0; b < kQb; ++b) {
            a0[b] = _mm512_add_ps(a0[b], _mm512_mul_ps(_mm512_set1_ps(prow[b][j]), v0));
          }
        }
      }
#pragma GCC unroll 8
      for (int b = 0; b < kQb; ++b) {
        _mm512_storeu_ps(o + size_t(b) * hd + d0, a0[b]);
        if (two) _mm512_storeu_ps(o + size_t(b) * hd + d0 + 16, a1[b]);
      }
    }
    for (int b = 0; b < nb; ++b) {
      const int i = i0 + b;
      float* ob = o + size_t(b) * hd;
      const float* pb = s + size_t(b) * tp;
      for (int r = -w; r <= w; ++r) {
        const int j = i + r;
        if (j < 0 || j >= t) continue;
        const float p = pb[j];
        const float* e = emb_v + size_t(r + w) * hd;
        for (int d = 0; d < hd; ++d) ob[d] += p * e[d];
      }
      for (int d = 0; d < hd; ++d) out[size_t(d) * t + i] = ob[d];
    }
  }
}

}  // namespace

void rel_attention_head(const float* q, const float* k, const float* v, int t, int hd,
                        float scale, const float* emb_k, const float* emb_v, int window,
                        float* out) {
  static const bool avx512 = cpu_level() >= CpuLevel::kAvx512;
  const size_t n = size_t(t) * size_t(hd);
  const size_t rel = size_t(2 * window + 1) * t;
  if (avx512 && hd % 16 == 0) {
    const size_t tp = size_t(t + 15) / 16 * 16;
    std::vector<float> scratch(3 * n + rel + kQb * tp + size_t(kQb) * hd);
    head_blocked(q, k, v, t, hd, scale, emb_k, emb_v, window, out, scratch.data());
    return;
  }
  std::vector<float> scratch(3 * n + rel + size_t(t) + size_t(hd));
  (avx512 ? attn_avx512::rel_attention_head : attn_base::rel_attention_head)(
      q, k, v, t, hd, scale, emb_k, emb_v, window, out, scratch.data());
}

void rel_attention_head_reference(const float* q, const float* k, const float* v, int t,
                                  int hd, float scale, const float* emb_k, const float* emb_v,
                                  int window, float* out) {
  const size_t n = size_t(t) * size_t(hd);
  std::vector<float> scratch(3 * n + size_t(2 * window + 1) * t + size_t(t) + size_t(hd));
  attn_base::rel_attention_head(q, k, v, t, hd, scale, emb_k, emb_v, window, out,
                                scratch.data());
}

}  // namespace omni::tts
