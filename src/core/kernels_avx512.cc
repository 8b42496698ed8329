// The AVX-512 level (F/BW/VL/DQ + VNNI). Quantized dots use VPDPBUSD / VPDPWSSD: 4-bit and
// 6-bit weights are unsigned already, so they multiply the signed int8 activations directly and
// the weight offset (-8, -32, -128) is folded in through exact per-block activation sums, which
// saves the sign juggling a signed x signed int8 product needs.
// Entries not defined here (q4_1, q5_0, q5_1, q5_K, the quantizers) keep the AVX2 versions.
// GCC 12's AVX-512 intrinsic headers start from _mm512_undefined_*() and trip these warnings.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "core/kernels_impl.h"

// clang has no GCC target pragma (the fuzz preset builds with clang): same effect there.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

// Outside omni::kernels so these names do not collide with the public dispatching API.
namespace omni::kernels_avx512 {
namespace {

using kernels::Q8Row;
using kernels::RopeMode;
namespace detail = kernels::detail;

#include "core/kernels_elementwise.inc"

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __mmask16 tail_mask(int64_t r) { return static_cast<__mmask16>((1u << r) - 1u); }

float dot_f32(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 k = tail_mask(n - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

inline __m512 load_f16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_f16(const uint16_t* p, __mmask16 k) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
}
inline __m512 load_bf16(const uint16_t* p) {
  const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}
inline __m512 load_bf16(const uint16_t* p, __mmask16 k) {
  const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

template <bool kBf16>
inline __m512 ld(const uint16_t* p) {
  return kBf16 ? load_bf16(p) : load_f16(p);
}

template <bool kBf16>
float dot_half(const uint16_t* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(ld<kBf16>(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(ld<kBf16>(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(ld<kBf16>(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(ld<kBf16>(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(ld<kBf16>(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 av = kBf16 ? load_bf16(a + i, k) : load_f16(a + i, k);
    s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(k, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float dot_f16(const uint16_t* a, const float* b, int64_t n) { return dot_half<false>(a, b, n); }
float dot_bf16(const uint16_t* a, const float* b, int64_t n) { return dot_half<true>(a, b, n); }

const Q8Row& q8(const void* act) { return *static_cast<const Q8Row*>(act); }

inline __m256i loadu256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Q8_0: w + 128 is unsigned, so VPDPBUSD gives sum(w a) + 128 sum(a); each of the 8 lanes
// starts at -16 sum(a) to cancel that exactly.
float dot_q8_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ8_0*>(wv);
  const Q8Row& a = q8(act);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
  const int64_t nb = n / QK8_0;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m256i u0 = _mm256_xor_si256(loadu256(w[b].qs), flip);
    const __m256i u1 = _mm256_xor_si256(loadu256(w[b + 1].qs), flip);
    const __m256i p0 = _mm256_dpbusd_epi32(_mm256_set1_epi32(-16 * a.sum[b]), u0, loadu256(a.qs + b * QK8_0));
    const __m256i p1 =
        _mm256_dpbusd_epi32(_mm256_set1_epi32(-16 * a.sum[b + 1]), u1, loadu256(a.qs + (b + 1) * QK8_0));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(half_to_float(w[b].d) * a.d[b]), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(half_to_float(w[b + 1].d) * a.d[b + 1]), acc1);
  }
  for (; b < nb; ++b) {
    const __m256i u0 = _mm256_xor_si256(loadu256(w[b].qs), flip);
    const __m256i p0 = _mm256_dpbusd_epi32(_mm256_set1_epi32(-16 * a.sum[b]), u0, loadu256(a.qs + b * QK8_0));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(half_to_float(w[b].d) * a.d[b]), acc0);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles then high nibbles.
inline __m256i unpack_nibbles16(const uint8_t* p) {
  const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_and_si256(_mm256_mask_srli_epi16(v, 0xFF00, v, 4), _mm256_set1_epi8(0x0F));
}

// Q4_0: unsigned nibbles times activations; lanes start at -sum(a) so the 8 lanes add the
// -8 sum(a) offset correction exactly.
float dot_q4_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ4_0*>(wv);
  const Q8Row& a = q8(act);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
  const int64_t nb = n / QK4_0;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m256i p0 = _mm256_dpbusd_epi32(_mm256_set1_epi32(-a.sum[b]), unpack_nibbles16(w[b].qs),
                                           loadu256(a.qs + b * QK4_0));
    const __m256i p1 = _mm256_dpbusd_epi32(_mm256_set1_epi32(-a.sum[b + 1]), unpack_nibbles16(w[b + 1].qs),
                                           loadu256(a.qs + (b + 1) * QK4_0));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(half_to_float(w[b].d) * a.d[b]), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(half_to_float(w[b + 1].d) * a.d[b + 1]), acc1);
  }
  for (; b < nb; ++b) {
    const __m256i p0 = _mm256_dpbusd_epi32(_mm256_set1_epi32(-a.sum[b]), unpack_nibbles16(w[b].qs),
                                           loadu256(a.qs + b * QK4_0));
    acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(half_to_float(w[b].d) * a.d[b]), acc0);
  }
  return hsum(_mm256_add_ps(acc0, acc1));
}

inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// Q4_K: each 32 bytes of nibbles hold 64 consecutive elements (low nibbles, then high); they
// are broadcast to both halves of a zmm and the upper half shifted, which lines them up with
// 64 contiguous activations. Sub-block scales multiply the pair sums with VPDPWSSD.
float dot_q4_K(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ4_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // permutation indices picking scale 2j (lanes 0-15) and 2j+1 (lanes 16-31) from 8 int16s
  __m512i idx[4];
  for (int j = 0; j < 4; ++j) {
    idx[j] = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(2 * j)),
                                _mm256_set1_epi16(static_cast<int16_t>(2 * j + 1)), 1);
  }
  __m512 acc = _mm512_setzero_ps();
  __m256 accm = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; ++b) {
    uint64_t sc8, m8;
    detail::unpack_scales_k4_words(w[b].scales, &sc8, &m8);
    const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(sc8))));
    __m512i isum = _mm512_setzero_si512();
    for (int j = 0; j < 4; ++j) {
      const __m512i q = _mm512_broadcast_i64x4(loadu256(w[b].qs + 32 * j));
      const __m512i v = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4), low4);
      const __m512i p = _mm512_maddubs_epi16(v, load512(a[b].qs + 64 * j));
      isum = _mm512_dpwssd_epi32(isum, p, _mm512_permutexvar_epi16(idx[j], sc16));
    }
    const __m128i m8v = _mm_cvtsi64_si128(static_cast<int64_t>(m8));
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8v, m8v));  // m0 m0 m1 m1 ...
    const __m256i mins = _mm256_madd_epi16(loadu256(a[b].bsums), m16);
    const float d = half_to_float(w[b].d) * a[b].d;
    const float dmin = half_to_float(w[b].dmin) * a[b].d;
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d), acc);
    accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(dmin), accm);
  }
  return _mm512_reduce_add_ps(acc) - hsum(accm);
}

// Q6_K: per 128-element half, the 64 bytes of low nibbles give elements 0-63 (low nibbles) and
// 64-127 (high nibbles) in order; the 2-bit high parts come from the 32 qh bytes broadcast to
// both zmm halves and shifted by a per-half amount. q is used unsigned (0..63); the -32 offset is
// folded in with the Q8_K group sums.
float dot_q6_K(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ6_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i m30 = _mm512_set1_epi8(0x30);
  const __m512i shl0 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr1 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  __m512i idx[4];  // scale groups 4c .. 4c+3, 8 int16 lanes each
  for (int c = 0; c < 4; ++c) {
    alignas(64) int16_t t[32];
    for (int i = 0; i < 32; ++i) t[i] = static_cast<int16_t>(4 * c + i / 8);
    idx[c] = _mm512_load_si512(t);
  }
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales)));
    const __m512i sc16 = _mm512_castsi256_si512(sc);
    // -32 * sum_g sc_g * bsum_g, as the starting value of the integer sum.
    const __m256i neg32sc = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc, 5));
    __m512i isum = _mm512_zextsi256_si512(_mm256_madd_epi16(loadu256(a[b].bsums), neg32sc));
    for (int h = 0; h < 2; ++h) {
      const __m512i l = load512(w[b].ql + 64 * h);
      const __m512i hb = _mm512_broadcast_i64x4(loadu256(w[b].qh + 32 * h));
      const __m512i q0 = _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_and_si512(_mm512_sllv_epi16(hb, shl0), m30));
      const __m512i q1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                         _mm512_and_si512(_mm512_srlv_epi16(hb, shr1), m30));
      const __m512i p0 = _mm512_maddubs_epi16(q0, load512(a[b].qs + 128 * h));
      const __m512i p1 = _mm512_maddubs_epi16(q1, load512(a[b].qs + 128 * h + 64));
      isum = _mm512_dpwssd_epi32(isum, p0, _mm512_permutexvar_epi16(idx[2 * h], sc16));
      isum = _mm512_dpwssd_epi32(isum, p1, _mm512_permutexvar_epi16(idx[2 * h + 1], sc16));
    }
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(half_to_float(w[b].d) * a[b].d), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

void fp16_to_fp32_row(const uint16_t* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, load_f16(x + i));
  if (i < n) {
    const __mmask16 k = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, k, load_f16(x + i, k));
  }
}
void fp32_to_fp16_row(const float* x, int64_t n, uint16_t* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  if (i < n) {
    const __mmask16 k = tail_mask(n - i);
    _mm256_mask_storeu_epi16(y + i, k, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(k, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}
void bf16_to_fp32_row(const uint16_t* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, load_bf16(x + i));
  if (i < n) {
    const __mmask16 k = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, k, load_bf16(x + i, k));
  }
}

}  // namespace
}  // namespace omni::kernels_avx512

namespace omni::kernels {

void detail::fill_avx512(KernelTable& t) {
  namespace k = kernels_avx512;
  t.dot_f32 = k::dot_f32;
  t.dot_f16 = k::dot_f16;
  t.dot_bf16 = k::dot_bf16;
  t.dot_q8_0 = k::dot_q8_0;
  t.dot_q4_0 = k::dot_q4_0;
  t.dot_q4_K = k::dot_q4_K;
  t.dot_q6_K = k::dot_q6_K;
  t.rms_norm = k::rms_norm;
  t.layer_norm = k::layer_norm;
  t.softmax = k::softmax;
  t.rope = k::rope;
  t.silu = k::silu;
  t.swiglu = k::swiglu;
  t.gelu_erf = k::gelu_erf;
  t.gelu_tanh = k::gelu_tanh;
  t.add = k::add;
  t.mul = k::mul;
  t.scale = k::scale;
  t.fp16_to_fp32 = k::fp16_to_fp32_row;
  t.fp32_to_fp16 = k::fp32_to_fp16_row;
  t.bf16_to_fp32 = k::bf16_to_fp32_row;
}

}  // namespace omni::kernels

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#pragma GCC diagnostic pop
