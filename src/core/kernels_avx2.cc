// The AVX2 level (AVX2 + FMA + F16C). The baseline stays generic x86-64: only the functions
// after the target pragma use these instructions, and they run only when CPUID says so.
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/half.h"
#include "core/isa_region.h"
#include "core/kernels_impl.h"

// Every function defined below targets this level.
OMNI_ISA_BEGIN("avx2,fma,f16c,bmi2")

// Outside omni::kernels so these names do not collide with the public dispatching API.
namespace omni::kernels_avx2 {
namespace {

using kernels::Q8Row;
using kernels::RopeMode;
namespace detail = kernels::detail;

#include "core/kernels_elementwise.inc"

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

float dot_f32(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load_bf16(const uint16_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

float dot_f16(const uint16_t* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(load_f16(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(load_f16(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(load_f16(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(load_f16(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load_f16(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += half_to_float(a[i]) * b[i];
  return s;
}

float dot_bf16(const uint16_t* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(load_bf16(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(load_bf16(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(load_bf16(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(load_bf16(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load_bf16(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += bf16_to_fp32(a[i]) * b[i];
  return s;
}

// 32 int32 (four vectors, in element order) -> 32 int8 in order.
inline __m256i pack_i32_to_i8(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
  const __m256i p01 = _mm256_packs_epi32(v0, v1);  // lanes interleaved by 128-bit halves
  const __m256i p23 = _mm256_packs_epi32(v2, v3);
  const __m256i p = _mm256_packs_epi16(p01, p23);
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void quantize_q8(const float* x, int64_t n, int8_t* qs, float* d, float* sd, int32_t* isum) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    const float* xb = x + b * QK8_0;
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(xb + 8 * k);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    const float amax = hmax(m);
    const float dd = amax / 127.0f;
    const float id = dd != 0.0f ? 1.0f / dd : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * QK8_0), pack_i32_to_i8(q[0], q[1], q[2], q[3]));
    const int sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    d[b] = half_to_float(fp32_to_fp16(dd));
    sd[b] = d[b] * static_cast<float>(sum);
    isum[b] = sum;
  }
}

void quantize_q8_K(const float* x, int64_t n, BlockQ8_K* y) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const float* xb = x + b * QK_K;
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < QK_K; k += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + k)));
    const float amax = hmax(m);
    BlockQ8_K& out = y[b];
    if (amax == 0.0f) {
      std::memset(&out, 0, sizeof(out));
      continue;
    }
    float max = 0;  // the first element of largest magnitude, with its sign (as the scalar level)
    for (int i = 0; i < QK_K; ++i) {
      if (std::fabs(xb[i]) == amax) {
        max = xb[i];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i hi = _mm256_set1_epi32(127);
    for (int k = 0; k < QK_K; k += 32) {
      __m256i q[4];
      for (int j = 0; j < 4; ++j) {
        q[j] = _mm256_min_epi32(hi, _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + k + 8 * j), vs)));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.qs + k), pack_i32_to_i8(q[0], q[1], q[2], q[3]));
      out.bsums[k / 16] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[0], q[1])));
      out.bsums[k / 16 + 1] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[2], q[3])));
    }
    out.d = 1.0f / iscale;
  }
}

const Q8Row& q8(const void* act) { return *static_cast<const Q8Row*>(act); }

inline __m256i loadu256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 bytes of packed nibbles -> 32 bytes: low nibbles then high nibbles.
inline __m256i unpack_nibbles16(const uint8_t* p) {
  const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i s = _mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4));
  return _mm256_and_si256(s, _mm256_set1_epi8(0x0F));
}

// sum over pairs of u8 x s8 products into 8 int32 lanes (no saturation as long as each pair
// sum of u*s stays within int16: callers keep u <= 63 or use the sign trick).
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

float dot_q8_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ8_0*>(wv);
  const Q8Row& a = q8(act);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    const __m256i wq = loadu256(w[b].qs);
    const __m256i aq = loadu256(a.qs + b * QK8_0);
    // |w| * (a with w's sign) keeps every pair sum within int16 (127*127*2).
    const __m256i p = dot_u8s8(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(aq, wq));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(w[b].d) * a.d[b]), acc);
  }
  return hsum(acc);
}

// Nibbles are used unsigned (0..15) and the -8 offset is applied once per block through the
// activation sum: sum((q-8)a) = sum(qa) - 8 sum(a).
float dot_q4_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ4_0*>(wv);
  const Q8Row& a = q8(act);
  __m256 acc = _mm256_setzero_ps();
  float corr = 0;
  for (int64_t b = 0; b < n / QK4_0; ++b) {
    const float dw = half_to_float(w[b].d);
    const __m256i p = dot_u8s8(unpack_nibbles16(w[b].qs), loadu256(a.qs + b * QK4_0));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * a.d[b]), acc);
    corr += dw * a.sd[b];
  }
  return hsum(acc) - 8.0f * corr;
}

float dot_q4_1(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ4_1*>(wv);
  const Q8Row& a = q8(act);
  __m256 acc = _mm256_setzero_ps();
  float corr = 0;
  for (int64_t b = 0; b < n / QK4_1; ++b) {
    const __m256i p = dot_u8s8(unpack_nibbles16(w[b].qs), loadu256(a.qs + b * QK4_1));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(w[b].d) * a.d[b]), acc);
    corr += half_to_float(w[b].m) * a.sd[b];
  }
  return hsum(acc) + corr;
}

// The 32 fifth bits of a Q5 block as 0x10 bytes in element order.
inline __m256i q5_high_bits(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                        2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i bitsel = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bitsel), bitsel);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

float dot_q5_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ5_0*>(wv);
  const Q8Row& a = q8(act);
  __m256 acc = _mm256_setzero_ps();
  float corr = 0;
  for (int64_t b = 0; b < n / QK5_0; ++b) {
    const float dw = half_to_float(w[b].d);
    const __m256i q = _mm256_or_si256(unpack_nibbles16(w[b].qs), q5_high_bits(w[b].qh));
    const __m256i p = dot_u8s8(q, loadu256(a.qs + b * QK5_0));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * a.d[b]), acc);
    corr += dw * a.sd[b];
  }
  return hsum(acc) - 16.0f * corr;
}

float dot_q5_1(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ5_1*>(wv);
  const Q8Row& a = q8(act);
  __m256 acc = _mm256_setzero_ps();
  float corr = 0;
  for (int64_t b = 0; b < n / QK5_1; ++b) {
    const __m256i q = _mm256_or_si256(unpack_nibbles16(w[b].qs), q5_high_bits(w[b].qh));
    const __m256i p = dot_u8s8(q, loadu256(a.qs + b * QK5_1));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(half_to_float(w[b].d) * a.d[b]), acc);
    corr += half_to_float(w[b].m) * a.sd[b];
  }
  return hsum(acc) + corr;
}

// Register-blocked R x C tiles over the 32-element types: the R x C dots above run side by side
// with exactly their float operations in their order (bit-identical outputs), each weight block
// unpacked once for C activation rows and each activation block loaded once for R weight rows.
// out[4 * c + r].
enum class Q32 { k8_0, k4_0, k4_1, k5_0, k5_1 };

template <Q32 T>
struct Q32Block;
template <> struct Q32Block<Q32::k8_0> { using type = BlockQ8_0; };
template <> struct Q32Block<Q32::k4_0> { using type = BlockQ4_0; };
template <> struct Q32Block<Q32::k4_1> { using type = BlockQ4_1; };
template <> struct Q32Block<Q32::k5_0> { using type = BlockQ5_0; };
template <> struct Q32Block<Q32::k5_1> { using type = BlockQ5_1; };

template <Q32 T, int R, int C>
void tile_q32(const uint8_t* wv, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  using Block = typename Q32Block<T>::type;
  constexpr bool kMin = T == Q32::k4_1 || T == Q32::k5_1;
  const Block* w[R];
  const Q8Row* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const Block*>(wv + r * wrb);
  for (int c = 0; c < C; ++c) a[c] = static_cast<const Q8Row*>(act[c]);
  __m256 acc[R][C];
  float corr[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      acc[r][c] = _mm256_setzero_ps();
      corr[r][c] = 0;
    }
  }
  for (int64_t b = 0; b < n / QK8_0; ++b) {
    __m256i q[R], sgn[R];
    float dw[R], mw[R];
    for (int r = 0; r < R; ++r) {
      const Block& blk = w[r][b];
      dw[r] = half_to_float(blk.d);
      mw[r] = 0;
      if constexpr (kMin) mw[r] = half_to_float(blk.m);
      if constexpr (T == Q32::k8_0) {
        sgn[r] = loadu256(blk.qs);
        q[r] = _mm256_sign_epi8(sgn[r], sgn[r]);
      } else if constexpr (T == Q32::k4_0 || T == Q32::k4_1) {
        q[r] = unpack_nibbles16(blk.qs);
      } else {
        q[r] = _mm256_or_si256(unpack_nibbles16(blk.qs), q5_high_bits(blk.qh));
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i aq = loadu256(a[c]->qs + b * QK8_0);
      const float ad = a[c]->d[b], asd = a[c]->sd[b];
      for (int r = 0; r < R; ++r) {
        __m256i p;
        if constexpr (T == Q32::k8_0) {
          p = dot_u8s8(q[r], _mm256_sign_epi8(aq, sgn[r]));
        } else {
          p = dot_u8s8(q[r], aq);
        }
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw[r] * ad), acc[r][c]);
        if constexpr (kMin) {
          corr[r][c] += mw[r] * asd;
        } else if constexpr (T != Q32::k8_0) {
          corr[r][c] += dw[r] * asd;
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      float v = hsum(acc[r][c]);
      if constexpr (T == Q32::k4_0) v -= 8.0f * corr[r][c];
      if constexpr (T == Q32::k5_0) v -= 16.0f * corr[r][c];
      if constexpr (kMin) v += corr[r][c];
      out[4 * c + r] = v;
    }
  }
}

// The 4-row single-token product from R x 1 tiles (out[r] for C = 1).
template <int R, void (*K)(const uint8_t*, uint64_t, const void* const*, int64_t, float*)>
void rows4(const void* w, uint64_t wrb, const void* act, int64_t n, float* y) {
  static_assert(4 % R == 0);
  for (int r = 0; r < 4; r += R) K(static_cast<const uint8_t*>(w) + r * wrb, wrb, &act, n, y + r);
}

// The same from 4 separate dots, for types whose R x 1 tile is slower than the dot at this
// level's 16 registers (the 4-row call still gives the matvec its 4 row streams).
template <float (*D)(const void*, const void*, int64_t)>
void rows4_dots(const void* w, uint64_t wrb, const void* act, int64_t n, float* y) {
  for (int r = 0; r < 4; ++r) y[r] = D(static_cast<const uint8_t*>(w) + r * wrb, act, n);
}

// A 4x4 tile from R x C sub-tiles.
template <int R, int C, void (*K)(const uint8_t*, uint64_t, const void* const*, int64_t, float*)>
void tile4x4(const void* w, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  static_assert(4 % R == 0 && 4 % C == 0);
  const auto* wb = static_cast<const uint8_t*>(w);
  for (int r = 0; r < 4; r += R) {
    for (int c = 0; c < 4; c += C) K(wb + r * wrb, wrb, act + c, n, out + 4 * c + r);
  }
}

// sum_j m_j * (bsums[2j] + bsums[2j+1]) for Q4_K / Q5_K.
inline int mins_dot(const uint8_t m[8], const int16_t* bsums) {
  const __m256i bs = loadu256(bsums);
  uint64_t mm;
  std::memcpy(&mm, m, 8);
  const __m128i m8 = _mm_cvtsi64_si128(static_cast<int64_t>(mm));
  const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m0 m0 m1 m1 ...
  return hsum_i32(_mm256_madd_epi16(bs, m16));
}

float dot_q4_K(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ4_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  float s = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    uint8_t sc[8], m[8];
    detail::unpack_scales_k4(w[b].scales, sc, m);
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = loadu256(w[b].qs + 32 * j);
      const __m256i lo = _mm256_and_si256(q, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      const __m256i plo = _mm256_maddubs_epi16(lo, loadu256(a[b].qs + 64 * j));
      const __m256i phi = _mm256_maddubs_epi16(hi, loadu256(a[b].qs + 64 * j + 32));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * j])));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * j + 1])));
    }
    const int sumi = hsum_i32(isum);
    const int summ = mins_dot(m, a[b].bsums);
    const float d = half_to_float(w[b].d) * a[b].d;
    const float dmin = half_to_float(w[b].dmin) * a[b].d;
    s += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
  }
  return s;
}

float dot_q5_K(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ5_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  float s = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    uint8_t sc[8], m[8];
    detail::unpack_scales_k4(w[b].scales, sc, m);
    const __m256i qh = loadu256(w[b].qh);
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = loadu256(w[b].qs + 32 * j);
      const __m256i blo = _mm256_set1_epi8(static_cast<char>(1 << (2 * j)));
      const __m256i bhi = _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1)));
      const __m256i hlo = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, blo), blo), bit4);
      const __m256i hhi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bhi), bhi), bit4);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, low4), hlo);
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4), hhi);
      const __m256i plo = _mm256_maddubs_epi16(lo, loadu256(a[b].qs + 64 * j));
      const __m256i phi = _mm256_maddubs_epi16(hi, loadu256(a[b].qs + 64 * j + 32));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, _mm256_set1_epi16(sc[2 * j])));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, _mm256_set1_epi16(sc[2 * j + 1])));
    }
    const int sumi = hsum_i32(isum);
    const int summ = mins_dot(m, a[b].bsums);
    const float d = half_to_float(w[b].d) * a[b].d;
    const float dmin = half_to_float(w[b].dmin) * a[b].d;
    s += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
  }
  return s;
}

// Q6_K: 6-bit q (0..63) used unsigned; the -32 offset comes back through the Q8_K group sums.
float dot_q6_K(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ6_K*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i m30 = _mm256_set1_epi8(0x30);
  float s = 0;
  for (int64_t b = 0; b < n / QK_K; ++b) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales)));
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = w[b].ql + 64 * h;
      const __m256i l0 = loadu256(ql), l1 = loadu256(ql + 32);
      const __m256i hb = loadu256(w[b].qh + 32 * h);
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
      q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(hb, m30));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                             _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
      for (int k = 0; k < 4; ++k) {
        const int g = 8 * h + 2 * k;  // scale groups g, g+1 cover these 32 elements
        const __m256i p = _mm256_maddubs_epi16(q[k], loadu256(a[b].qs + 128 * h + 32 * k));
        const __m256i scv = _mm256_set_m128i(_mm_set1_epi16(w[b].scales[g + 1]), _mm_set1_epi16(w[b].scales[g]));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scv));
      }
    }
    const __m256i corr = _mm256_madd_epi16(loadu256(a[b].bsums), sc16);
    const int sumi = hsum_i32(_mm256_sub_epi32(isum, _mm256_slli_epi32(corr, 5)));
    s += half_to_float(w[b].d) * a[b].d * static_cast<float>(sumi);
  }
  return s;
}

// Tiles for the K-quants: the dots above for R x C pairs side by side (same float expression per
// block and pair, so bit-identical), unpacked nibbles and broadcast scales shared across C
// activation rows. out[4 * c + r].
template <bool kFive, int R, int C>
void tile_qk4(const uint8_t* wv, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const Block* w[R];
  const BlockQ8_K* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const Block*>(wv + r * wrb);
  for (int c = 0; c < C; ++c) a[c] = static_cast<const BlockQ8_K*>(act[c]);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bit4 = _mm256_set1_epi8(0x10);
  float s[R][C] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    uint8_t sc[R][8], m[R][8];
    __m256i isum[R][C];
    for (int r = 0; r < R; ++r) {
      detail::unpack_scales_k4(w[r][b].scales, sc[r], m[r]);
      for (int c = 0; c < C; ++c) isum[r][c] = _mm256_setzero_si256();
    }
    for (int j = 0; j < 4; ++j) {
      __m256i lo[R], hi[R], slo[R], shi[R];
      for (int r = 0; r < R; ++r) {
        const __m256i q = loadu256(w[r][b].qs + 32 * j);
        lo[r] = _mm256_and_si256(q, low4);
        hi[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
        if constexpr (kFive) {
          const __m256i qh = loadu256(w[r][b].qh);
          const __m256i blo = _mm256_set1_epi8(static_cast<char>(1 << (2 * j)));
          const __m256i bhi = _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1)));
          lo[r] = _mm256_or_si256(lo[r], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, blo), blo), bit4));
          hi[r] = _mm256_or_si256(hi[r], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bhi), bhi), bit4));
        }
        slo[r] = _mm256_set1_epi16(sc[r][2 * j]);
        shi[r] = _mm256_set1_epi16(sc[r][2 * j + 1]);
      }
      for (int c = 0; c < C; ++c) {
        const __m256i alo = loadu256(a[c][b].qs + 64 * j), ahi = loadu256(a[c][b].qs + 64 * j + 32);
        for (int r = 0; r < R; ++r) {
          isum[r][c] = _mm256_add_epi32(isum[r][c], _mm256_madd_epi16(_mm256_maddubs_epi16(lo[r], alo), slo[r]));
          isum[r][c] = _mm256_add_epi32(isum[r][c], _mm256_madd_epi16(_mm256_maddubs_epi16(hi[r], ahi), shi[r]));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) {
        const int sumi = hsum_i32(isum[r][c]);
        const int summ = mins_dot(m[r], a[c][b].bsums);
        const float d = half_to_float(w[r][b].d) * a[c][b].d;
        const float dmin = half_to_float(w[r][b].dmin) * a[c][b].d;
        s[r][c] += d * static_cast<float>(sumi) - dmin * static_cast<float>(summ);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[4 * c + r] = s[r][c];
  }
}

template <int R, int C>
void tile_q6_K(const uint8_t* wv, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  const BlockQ6_K* w[R];
  const BlockQ8_K* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ6_K*>(wv + r * wrb);
  for (int c = 0; c < C; ++c) a[c] = static_cast<const BlockQ8_K*>(act[c]);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i m30 = _mm256_set1_epi8(0x30);
  float s[R][C] = {};
  for (int64_t b = 0; b < n / QK_K; ++b) {
    __m256i isum[R][C];
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) isum[r][c] = _mm256_setzero_si256();
    }
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        __m256i q[R], scv[R];
        for (int r = 0; r < R; ++r) {
          const uint8_t* ql = w[r][b].ql + 64 * h;
          const __m256i l = loadu256(ql + 32 * (k & 1));
          const __m256i hb = loadu256(w[r][b].qh + 32 * h);
          const __m256i lv = k < 2 ? _mm256_and_si256(l, low4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), low4);
          __m256i hv;
          switch (k) {
            case 0: hv = _mm256_slli_epi16(hb, 4); break;
            case 1: hv = _mm256_slli_epi16(hb, 2); break;
            case 2: hv = hb; break;
            default: hv = _mm256_srli_epi16(hb, 2); break;
          }
          q[r] = _mm256_or_si256(lv, _mm256_and_si256(hv, m30));
          const int g = 8 * h + 2 * k;
          scv[r] = _mm256_set_m128i(_mm_set1_epi16(w[r][b].scales[g + 1]), _mm_set1_epi16(w[r][b].scales[g]));
        }
        for (int c = 0; c < C; ++c) {
          const __m256i aq = loadu256(a[c][b].qs + 128 * h + 32 * k);
          for (int r = 0; r < R; ++r) {
            isum[r][c] = _mm256_add_epi32(isum[r][c], _mm256_madd_epi16(_mm256_maddubs_epi16(q[r], aq), scv[r]));
          }
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].scales)));
      for (int c = 0; c < C; ++c) {
        const __m256i corr = _mm256_madd_epi16(loadu256(a[c][b].bsums), sc16);
        const int sumi = hsum_i32(_mm256_sub_epi32(isum[r][c], _mm256_slli_epi32(corr, 5)));
        s[r][c] += half_to_float(w[r][b].d) * a[c][b].d * static_cast<float>(sumi);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[4 * c + r] = s[r][c];
  }
}

void fp16_to_fp32_row(const uint16_t* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load_f16(x + i));
  for (; i < n; ++i) y[i] = fp16_to_fp32(x[i]);
}
void fp32_to_fp16_row(const float* x, int64_t n, uint16_t* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}
void bf16_to_fp32_row(const uint16_t* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load_bf16(x + i));
  for (; i < n; ++i) y[i] = bf16_to_fp32(x[i]);
}

}  // namespace
}  // namespace omni::kernels_avx2

namespace omni::kernels {

void detail::fill_avx2(KernelTable& t) {
  namespace k = kernels_avx2;
  t.dot_f32 = k::dot_f32;
  t.dot_f16 = k::dot_f16;
  t.dot_bf16 = k::dot_bf16;
  t.quantize_q8 = k::quantize_q8;
  t.quantize_q8_K = k::quantize_q8_K;
  t.dot_q8_0 = k::dot_q8_0;
  t.dot_q4_0 = k::dot_q4_0;
  t.tile4x4_q8_0 = k::tile4x4<2, 2, k::tile_q32<k::Q32::k8_0, 2, 2>>;
  t.tile4x4_q4_0 = k::tile4x4<2, 2, k::tile_q32<k::Q32::k4_0, 2, 2>>;
  t.tile4x4_q4_1 = k::tile4x4<2, 2, k::tile_q32<k::Q32::k4_1, 2, 2>>;
  t.tile4x4_q5_0 = k::tile4x4<2, 2, k::tile_q32<k::Q32::k5_0, 2, 2>>;
  t.tile4x4_q5_1 = k::tile4x4<2, 2, k::tile_q32<k::Q32::k5_1, 2, 2>>;
  t.tile4x4_q4_K = k::tile4x4<2, 2, k::tile_qk4<false, 2, 2>>;
  t.tile4x4_q5_K = k::tile4x4<2, 2, k::tile_qk4<true, 2, 2>>;
  t.tile4x4_q6_K = k::tile4x4<2, 2, k::tile_q6_K<2, 2>>;
  t.rows4_q8_0 = k::rows4<4, k::tile_q32<k::Q32::k8_0, 4, 1>>;
  t.rows4_q4_0 = k::rows4<4, k::tile_q32<k::Q32::k4_0, 4, 1>>;
  t.rows4_q4_1 = k::rows4<4, k::tile_q32<k::Q32::k4_1, 4, 1>>;
  t.rows4_q5_0 = k::rows4_dots<k::dot_q5_0>;
  t.rows4_q5_1 = k::rows4_dots<k::dot_q5_1>;
  t.rows4_q4_K = k::rows4_dots<k::dot_q4_K>;
  t.rows4_q5_K = k::rows4_dots<k::dot_q5_K>;
  t.rows4_q6_K = k::rows4<2, k::tile_q6_K<2, 1>>;
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

OMNI_ISA_END()
