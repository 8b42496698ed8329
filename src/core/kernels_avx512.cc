// The AVX-512 level (F/BW/VL/DQ + VNNI). Quantized dots use VPDPBUSD / VPDPWSSD: 4-bit and
// 6-bit weights are unsigned already, so they multiply the signed int8 activations directly and
// the weight offset (-8, -32, -128) is folded in through exact per-block activation sums, which
// saves the sign juggling a signed x signed int8 product needs.
// Entries not defined here (q4_1, q5_0, q5_1, q5_K, the quantizers) keep the AVX2 versions.
#include "core/intrinsics.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/half.h"
#include "core/isa_region.h"
#include "core/kernels_impl.h"

// Every function defined below targets this level.
OMNI_ISA_BEGIN("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")

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

// y[r] = dot_f16(row r, x) for `rows` rows `ws` elements apart, bit for bit (each row is
// dot_half's loop: four accumulators, same chunking and final sum). The rows are cut into S
// contiguous segments and row k of every segment is computed in the same pass, so the matrix is
// read as S far-apart sequential streams: one stream per core left DRAM idle between the
// requests the hardware prefetcher issues. When a stream enters a new 4 KiB page it prefetches
// one line kAhead bytes further into L1: the hardware streamer stops at every 4 KiB boundary
// (and the TLB misses there, the page cache mapping model files mostly in 4 KiB entries), and
// the early touch restarts it and walks the page table before the loads arrive. Measured
// (docs/BENCHMARKS.md, session 7), CPU time per call at 1 thread against the session 5 kernel
// (4 streams without prefetch; 2 streams with an L2 prefetch per 128 bytes for long rows):
// -23 % on the 151936x896 LM head, -17 % at 4864x896, -11 % at 896x4864. The page touch is most
// of it (6 streams without it: +24 %); 7 streams (28 accumulators) and 8 (which spill) were
// slower, as were the touch 4 KiB ahead, a T1 (L2) touch, adjacent-row interleaving and a
// prefetch per line (sessions 4-5).
template <int S, bool kTail>
void matvec_f16_streams(const uint16_t* w, int64_t ws, int64_t seg, const float* x, int64_t n, float* y) {
  constexpr uintptr_t kAhead = 16384;  // bytes
  for (int64_t k = 0; k < seg; ++k) {
    __m512 acc[S][4];
    const uint16_t* a[S];
    for (int s = 0; s < S; ++s) {
      a[s] = w + (s * seg + k) * ws;
      for (auto& v : acc[s]) v = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
      for (int s = 0; s < S; ++s) {
        const uintptr_t at = reinterpret_cast<uintptr_t>(a[s] + i);
        if ((at & 4095) < 128) {
          // Past the matrix's end this names memory we do not own; a prefetch never faults,
          // and the address is formed as an integer so no out-of-range pointer exists.
          _mm_prefetch(reinterpret_cast<const char*>(at + kAhead), _MM_HINT_T0);
        }
      }
      for (int j = 0; j < 4; ++j) {
        const __m512 xv = _mm512_loadu_ps(x + i + 16 * j);  // one load for all streams
        for (int s = 0; s < S; ++s) acc[s][j] = _mm512_fmadd_ps(load_f16(a[s] + i + 16 * j), xv, acc[s][j]);
      }
    }
    for (int s = 0; s < S; ++s) {
      if constexpr (kTail) {
        int64_t t = i;
        for (; t + 16 <= n; t += 16) acc[s][0] = _mm512_fmadd_ps(load_f16(a[s] + t), _mm512_loadu_ps(x + t), acc[s][0]);
        if (t < n) {
          const __mmask16 m = tail_mask(n - t);
          acc[s][1] = _mm512_fmadd_ps(load_f16(a[s] + t, m), _mm512_maskz_loadu_ps(m, x + t), acc[s][1]);
        }
      }
      y[s * seg + k] = _mm512_reduce_add_ps(
          _mm512_add_ps(_mm512_add_ps(acc[s][0], acc[s][1]), _mm512_add_ps(acc[s][2], acc[s][3])));
    }
  }
}

void matvec_f16(const uint16_t* w, int64_t ws, int64_t rows, const float* x, int64_t n, float* y) {
  constexpr int64_t kStreams = 6;  // 24 accumulators: no spills in the inner loop
  const int64_t seg = rows / kStreams, done = seg * kStreams;
  // Without column tails (every LLM and Whisper shape) the loop holds all pointers and
  // accumulators in registers; the tail code alone made GCC spill (5-7 % CPU time).
  if (n % 64 == 0) {
    matvec_f16_streams<kStreams, false>(w, ws, seg, x, n, y);
  } else {
    matvec_f16_streams<kStreams, true>(w, ws, seg, x, n, y);
  }
  if (done < rows) matvec_f16_streams<1, true>(w + done * ws, ws, rows - done, x, n, y + done);
}
float dot_bf16(const uint16_t* a, const float* b, int64_t n) { return dot_half<true>(a, b, n); }

// 4 weight rows x 4 activation rows, one accumulator each: per 16 elements 8 loads feed 16
// FMAs, so the loop is bound by the FMA units rather than by loads as a single dot is.
inline __m512 wload(const float* p, __mmask16 k) { return _mm512_maskz_loadu_ps(k, p); }
inline __m512 wload(const uint16_t* p, __mmask16 k) { return load_f16(p, k); }

template <class W>
void tile4x4(const W* w, int64_t ws, const float* x, int64_t xs, int64_t n, float* out) {
  __m512 acc[16];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
    __m512 wv[4], xv[4];
    for (int r = 0; r < 4; ++r) wv[r] = wload(w + r * ws + i, k);
    for (int a = 0; a < 4; ++a) xv[a] = _mm512_maskz_loadu_ps(k, x + a * xs + i);
    for (int a = 0; a < 4; ++a) {
      for (int r = 0; r < 4; ++r) acc[4 * a + r] = _mm512_fmadd_ps(wv[r], xv[a], acc[4 * a + r]);
    }
  }
  for (int j = 0; j < 16; ++j) out[j] = _mm512_reduce_add_ps(acc[j]);
}

void tile4x4_f32(const float* w, int64_t ws, const float* x, int64_t xs, int64_t n, float* out) {
  tile4x4(w, ws, x, xs, n, out);
}
void tile4x4_f16(const uint16_t* w, int64_t ws, const float* x, int64_t xs, int64_t n, float* out) {
  tile4x4(w, ws, x, xs, n, out);
}

// Outer-product GEMM block for float weights packed k-major: wp[16 * (4 * kk + j) + l] is weight
// row 16 j + l at column kk (64 rows, kc columns). Per column, 4 weight vectors meet M
// broadcast activations: 4 M FMAs for 4 + M loads, and every accumulator is a final output
// (no horizontal sums). c[64 * a + r] = sum_kk wp[kk][r] * x[a * xs + kk], summed in order of kk.
template <int M>
void gemm_block(const float* wp, int64_t kc, const float* x, int64_t xs, float* c) {
  __m512 acc[M][4];
  for (int a = 0; a < M; ++a) {
    for (int j = 0; j < 4; ++j) acc[a][j] = _mm512_setzero_ps();
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    const float* w = wp + 64 * kk;
    const __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
    const __m512 w2 = _mm512_load_ps(w + 32), w3 = _mm512_load_ps(w + 48);
    for (int a = 0; a < M; ++a) {
      const __m512 xa = _mm512_set1_ps(x[a * xs + kk]);
      acc[a][0] = _mm512_fmadd_ps(w0, xa, acc[a][0]);
      acc[a][1] = _mm512_fmadd_ps(w1, xa, acc[a][1]);
      acc[a][2] = _mm512_fmadd_ps(w2, xa, acc[a][2]);
      acc[a][3] = _mm512_fmadd_ps(w3, xa, acc[a][3]);
    }
  }
  for (int a = 0; a < M; ++a) {
    for (int j = 0; j < 4; ++j) _mm512_storeu_ps(c + 64 * a + 16 * j, acc[a][j]);
  }
}

void gemm6x64_f32(const float* wp, int64_t kc, const float* x, int64_t xs, int64_t m, float* c) {
  switch (m) {
    case 1: gemm_block<1>(wp, kc, x, xs, c); break;
    case 2: gemm_block<2>(wp, kc, x, xs, c); break;
    case 3: gemm_block<3>(wp, kc, x, xs, c); break;
    case 4: gemm_block<4>(wp, kc, x, xs, c); break;
    case 5: gemm_block<5>(wp, kc, x, xs, c); break;
    default: gemm_block<6>(wp, kc, x, xs, c); break;
  }
}

void gemv64_f16(const uint16_t* wp, int64_t kc, const float* x, float* c) {
  __m512 acc[4];
  for (auto& v : acc) v = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < kc; ++kk) {
    const uint16_t* w = wp + 64 * kk;
    const __m512 xa = _mm512_set1_ps(x[kk]);
    for (int j = 0; j < 4; ++j) {
      const __m512 wv = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(w + 16 * j)));
      acc[j] = _mm512_fmadd_ps(wv, xa, acc[j]);
    }
  }
  for (int j = 0; j < 4; ++j) _mm512_storeu_ps(c + 16 * j, acc[j]);
}

const Q8Row& q8(const void* act) { return *static_cast<const Q8Row*>(act); }

inline __m256i loadu256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// ---- 32-element blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) ----
// Weights become unsigned bytes u = q + offset (Q8_0: w + 128 via a sign flip; Q4/Q5: the
// stored nibbles), so VPDPBUSD multiplies them with the signed activations directly. Each
// block's 8 int32 lanes start at -(offset / 8) * sum(a), which cancels the offset exactly.
// Four blocks per step: their fp16 scales are converted together and broadcast to the lanes of
// two blocks at a time with one permute.

enum class Q32 { k8_0, k4_0, k4_1, k5_0, k5_1 };

template <Q32 T>
struct Q32Traits;
template <>
struct Q32Traits<Q32::k8_0> {
  using Block = BlockQ8_0;  // dot_q8_0 has its own loop; gemm_q32 and q32_finish use these
  static constexpr int kBiasShift = 4;  // offset 128 (sign flip): -16 sum (8 lanes) / -32 sum (4)
  static constexpr bool kMin = false;
};
template <>
struct Q32Traits<Q32::k4_0> {
  using Block = BlockQ4_0;
  static constexpr int kBiasShift = 0;  // offset 8: lanes start at -sum (8 lanes) / -2 sum (4)
  static constexpr bool kMin = false;
};
template <>
struct Q32Traits<Q32::k4_1> {
  using Block = BlockQ4_1;
  static constexpr int kBiasShift = -1;  // no offset; the min m is added through sd = d * sum
  static constexpr bool kMin = true;
};
template <>
struct Q32Traits<Q32::k5_0> {
  using Block = BlockQ5_0;
  static constexpr int kBiasShift = 1;  // offset 16: twice the Q4_0 lanes
  static constexpr bool kMin = false;
};
template <>
struct Q32Traits<Q32::k5_1> {
  using Block = BlockQ5_1;
  static constexpr int kBiasShift = -1;
  static constexpr bool kMin = true;
};

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Two consecutive blocks' weights as 64 unsigned bytes in element order.
template <Q32 T>
inline __m512i unpack2(const typename Q32Traits<T>::Block* w) {
  if constexpr (T == Q32::k8_0) {
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(w[0].qs)), loadu256(w[1].qs), 1);
    return _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));
  } else {
    // [qs0 qs0 qs1 qs1] then shift the second copy of each to get the high nibbles.
    const __m512i a = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[0].qs)));
    const __m512i b = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[1].qs)));
    const __m512i v = _mm512_mask_blend_epi64(0xF0, a, b);
    __m512i q = _mm512_and_si512(_mm512_mask_srli_epi16(v, 0xFF00FF00u, v, 4), _mm512_set1_epi8(0x0F));
    if constexpr (T == Q32::k5_0 || T == Q32::k5_1) {
      const __mmask64 hi = static_cast<__mmask64>(load_u32(w[0].qh)) |
                           (static_cast<__mmask64>(load_u32(w[1].qh)) << 32);
      q = _mm512_mask_add_epi8(q, hi, q, _mm512_set1_epi8(0x10));
    }
    return q;
  }
}

// The 16 nibble bytes of four consecutive blocks, block j in 128-bit lane j. Pairs are joined
// at 256 bits first: a ymm insert is single-pumped, so this costs 4 shuffle-pipe cycles on Zen 4
// instead of the 6 of three zmm inserts (same bytes).
template <class Block>
inline __m512i load_qs4(const Block* x) {
  const auto ld = [](const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); };
  const __m256i q01 = _mm256_inserti128_si256(_mm256_castsi128_si256(ld(x[0].qs)), ld(x[1].qs), 1);
  const __m256i q23 = _mm256_inserti128_si256(_mm256_castsi128_si256(ld(x[2].qs)), ld(x[3].qs), 1);
  return _mm512_inserti64x4(_mm512_castsi256_si512(q01), q23, 1);
}

// Q5_0 / Q5_1: the fifth bits of four consecutive blocks as byte masks over the load_qs4 layout:
// *lo = elements 0-15 of block j at bits 16 j .. 16 j + 15, *hi = elements 16-31. Built from
// 16-bit loads (a load and no ALU work each), leaving 3 shifts and 3 ORs per mask: the scalar
// ports, not the vector ones, bound the Q5 dots.
template <class Block>
inline void q5_masks4(const Block* x, __mmask64* lo, __mmask64* hi) {
  const auto u16 = [](const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return static_cast<uint64_t>(v);
  };
  *lo = static_cast<__mmask64>(u16(x[0].qh) | (u16(x[1].qh) << 16) | (u16(x[2].qh) << 32) | (u16(x[3].qh) << 48));
  *hi = static_cast<__mmask64>(u16(x[0].qh + 2) | (u16(x[1].qh + 2) << 16) | (u16(x[2].qh + 2) << 32) |
                               (u16(x[3].qh + 2) << 48));
}

// The fp16 d of four consecutive blocks without min, as floats. Q5_0 gathers them with word
// inserts (loads and 128-bit shuffles) because its dots are bound by the scalar ports; Q4_0
// (bound by the vector ones) assembles them in a general register.
template <Q32 T, class Block>
inline __m128 d4(const Block* x) {
  if constexpr (T == Q32::k5_0) {
    __m128i h = _mm_cvtsi32_si128(x[0].d);
    h = _mm_insert_epi16(h, x[1].d, 1);
    h = _mm_insert_epi16(h, x[2].d, 2);
    h = _mm_insert_epi16(h, x[3].d, 3);
    return _mm_cvtph_ps(h);
  } else {
    const uint64_t h = static_cast<uint64_t>(x[0].d) | (static_cast<uint64_t>(x[1].d) << 16) |
                       (static_cast<uint64_t>(x[2].d) << 32) | (static_cast<uint64_t>(x[3].d) << 48);
    return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(h)));
  }
}

// The d (or, with mins, the m) of four blocks with a min (Q4_1, Q5_1) as floats.
template <Q32 T>
inline __m128 scales4(const typename Q32Traits<T>::Block* w, bool mins) {
  __m128i h = _mm_cvtsi32_si128(mins ? w[0].m : w[0].d);
  h = _mm_insert_epi16(h, mins ? w[1].m : w[1].d, 1);
  h = _mm_insert_epi16(h, mins ? w[2].m : w[2].d, 2);
  h = _mm_insert_epi16(h, mins ? w[3].m : w[3].d, 3);
  return _mm_cvtph_ps(h);
}

// The end of a Q32 dot from its accumulators, then the remaining 1-3 blocks one at a time with
// the AVX2-width code of the same scheme (shared by the dot and the tiles so both round alike).
template <Q32 T>
inline float q32_finish(__m512 acc0, __m512 acc1, __m128 corr, const typename Q32Traits<T>::Block* w,
                        const Q8Row& a, int64_t b, int64_t nb) {
  using Tr = Q32Traits<T>;
  float total = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  {
    __m128 c = _mm_add_ps(corr, _mm_movehl_ps(corr, corr));
    c = _mm_add_ss(c, _mm_movehdup_ps(c));
    total += _mm_cvtss_f32(c);
  }
  for (; b < nb; ++b) {
    const typename Tr::Block& blk = w[b];
    __m256i u;
    if constexpr (T == Q32::k8_0) {
      u = _mm256_xor_si256(loadu256(blk.qs), _mm256_set1_epi8(static_cast<char>(0x80)));
    } else {
      const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.qs)));
      u = _mm256_and_si256(_mm256_mask_srli_epi16(v, 0xFF00, v, 4), _mm256_set1_epi8(0x0F));
      if constexpr (T == Q32::k5_0 || T == Q32::k5_1) {
        u = _mm256_mask_add_epi8(u, static_cast<__mmask32>(load_u32(blk.qh)), u, _mm256_set1_epi8(0x10));
      }
    }
    const int32_t bias = Tr::kBiasShift >= 0 ? -(a.sum[b] << std::max(Tr::kBiasShift, 0)) : 0;
    const __m256i p = _mm256_dpbusd_epi32(_mm256_set1_epi32(bias), u, loadu256(a.qs + b * QK8_0));
    float r = hsum(_mm256_cvtepi32_ps(p)) * (half_to_float(blk.d) * a.d[b]);
    if constexpr (Tr::kMin) r += half_to_float(blk.m) * a.sd[b];
    total += r;
  }
  return total;
}

// Four-bit blocks (Q4_0, Q4_1, Q5_0, Q5_1), four per step: the 4 x 16 nibble bytes are
// gathered into one zmm, low and high nibbles split with one AND and one shift + AND, and
// multiplied with the activations' nibble-ordered copy (qs_nib), so each block owns 4 lanes of a
// single integer sum; one conversion, one scale permute and one FMA then cover four blocks.
template <Q32 T>
float dot_q32(const void* wv, const void* act, int64_t n) {
  using Tr = Q32Traits<T>;
  static_assert(T != Q32::k8_0, "Q8_0 has its own kernel");
  const auto* w = static_cast<const typename Tr::Block*>(wv);
  const Q8Row& a = q8(act);
  alignas(64) static constexpr int32_t kIdx4[16] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  const __m512i idx4 = _mm512_load_si512(kIdx4);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
  __m128 corr = _mm_setzero_ps();
  const int64_t nb = n / QK8_0;
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    __m128 s4;
    if constexpr (Tr::kMin) {
      s4 = _mm_mul_ps(scales4<T>(w + b, false), _mm_loadu_ps(a.d + b));
      corr = _mm_fmadd_ps(scales4<T>(w + b, true), _mm_loadu_ps(a.sd + b), corr);
    } else {
      // The four fp16 scales (see d4 for where each type assembles them).
      s4 = _mm_mul_ps(d4<T>(w + b), _mm_loadu_ps(a.d + b));
    }
    const __m512i q = load_qs4(w + b);
    __m512i lo = _mm512_and_si512(q, low4);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
    if constexpr (T == Q32::k5_0 || T == Q32::k5_1) {
      __mmask64 mlo, mhi;
      q5_masks4(w + b, &mlo, &mhi);
      lo = _mm512_mask_add_epi8(lo, mlo, lo, _mm512_set1_epi8(0x10));
      hi = _mm512_mask_add_epi8(hi, mhi, hi, _mm512_set1_epi8(0x10));
    }
    __m512i p = _mm512_setzero_si512();
    if constexpr (Tr::kBiasShift >= 0) {
      p = load512(a.neg_sum4x2 + 4 * b);
      if constexpr (Tr::kBiasShift > 0) p = _mm512_slli_epi32(p, Tr::kBiasShift);
    }
    const int8_t* an = a.qs_nib + 32 * b;
    p = _mm512_dpbusd_epi32(p, lo, load512(an));
    p = _mm512_dpbusd_epi32(p, hi, load512(an + 64));
    const __m512 s = _mm512_permutexvar_ps(idx4, _mm512_castps128_ps512(s4));
    if ((b & 4) == 0) {
      acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc0);
    } else {
      acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc1);
    }
  }
  return q32_finish<T>(acc0, acc1, corr, w, a, b, nb);
}



// Q4_K / Q5_K: each 32 bytes of nibbles hold 64 consecutive elements (low nibbles, then high);
// they are broadcast to both halves of a zmm and the upper half shifted, which lines them up
// with 64 contiguous activations. Q5_K's fifth bits come from testing the 32 qh bytes (also
// broadcast) against this chunk's two bit positions. Sub-block scales multiply the pair sums
// with VPDPWSSD; mins go through the Q8_K group sums.
template <bool kFive>
float dot_qk4(const void* wv, const void* act, int64_t n) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const auto* w = static_cast<const Block*>(wv);
  const auto* a = static_cast<const BlockQ8_K*>(act);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  // permutation indices picking scale 2j (lanes 0-15) and 2j+1 (lanes 16-31) from 8 int16s
  __m512i idx[4], hbit[4];
  for (int j = 0; j < 4; ++j) {
    idx[j] = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(2 * j)),
                                _mm256_set1_epi16(static_cast<int16_t>(2 * j + 1)), 1);
    hbit[j] = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * j))),
                                 _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1))), 1);
  }
  __m512 acc = _mm512_setzero_ps();
  __m256 accm = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; ++b) {
    uint64_t sc8, m8;
    detail::unpack_scales_k4_words(w[b].scales, &sc8, &m8);
    const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(sc8))));
    __m512i qh = _mm512_setzero_si512();
    if constexpr (kFive) qh = _mm512_broadcast_i64x4(loadu256(w[b].qh));
    __m512i isum = _mm512_setzero_si512();
    for (int j = 0; j < 4; ++j) {
      const __m512i q = _mm512_broadcast_i64x4(loadu256(w[b].qs + 32 * j));
      __m512i v = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4), low4);
      if constexpr (kFive) {
        v = _mm512_mask_add_epi8(v, _mm512_test_epi8_mask(qh, hbit[j]), v, bit4);
      }
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

// Q8_0 keeps one summation order on purpose: lanes 0-7 accumulate the even blocks and lanes 8-15
// the odd ones, in block order, then the two halves are added lane by lane and reduced as
// hsum() does. That is the order llama.cpp's x86 Q8_0 dot uses, so Q8_0 models reproduce its
// logits bit for bit (the golden tests rely on it: with an f16 KV cache, one-ulp differences
// get amplified by the f16 roundings of attention).
float dot_q8_0(const void* wv, const void* act, int64_t n) {
  const auto* w = static_cast<const BlockQ8_0*>(wv);
  const Q8Row& a = q8(act);
  const __m512i idx01 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1);
  const __m512i idx23 = _mm512_add_epi32(idx01, _mm512_set1_epi32(2));
  __m512 acc = _mm512_setzero_ps();
  const int64_t nb = n / QK8_0;
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    const uint64_t h = static_cast<uint64_t>(w[b].d) | (static_cast<uint64_t>(w[b + 1].d) << 16) |
                       (static_cast<uint64_t>(w[b + 2].d) << 32) | (static_cast<uint64_t>(w[b + 3].d) << 48);
    const __m128 s4 = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(h))), _mm_loadu_ps(a.d + b));
    const __m512 s = _mm512_castps128_ps512(s4);
    const __m512i bias0 = _mm512_slli_epi32(load512(a.neg_sum8 + 8 * b), 4);
    const __m512i bias1 = _mm512_slli_epi32(load512(a.neg_sum8 + 8 * b + 16), 4);
    const __m512i p0 = _mm512_dpbusd_epi32(bias0, unpack2<Q32::k8_0>(w + b), load512(a.qs + b * QK8_0));
    const __m512i p1 = _mm512_dpbusd_epi32(bias1, unpack2<Q32::k8_0>(w + b + 2), load512(a.qs + (b + 2) * QK8_0));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p0), _mm512_permutexvar_ps(idx01, s), acc);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p1), _mm512_permutexvar_ps(idx23, s), acc);
  }
  __m256 even = _mm512_castps512_ps256(acc), odd = _mm512_extractf32x8_ps(acc, 1);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (; b < nb; ++b) {
    const __m256i u = _mm256_xor_si256(loadu256(w[b].qs), flip);
    const __m256i p = _mm256_dpbusd_epi32(_mm256_set1_epi32(-16 * a.sum[b]), u, loadu256(a.qs + b * QK8_0));
    const __m256 s = _mm256_set1_ps(half_to_float(w[b].d) * a.d[b]);
    if (b % 2 == 0) {
      even = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, even);
    } else {
      odd = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, odd);
    }
  }
  return hsum(_mm256_add_ps(even, odd));
}

// ---- Register-blocked tiles (R weight rows x C activation rows) ----
// Each tile runs the dots of its R x C pairs side by side, with exactly the float operations of
// the dot functions above in the same order, so every output is bit-identical to the dot. What
// changes is that a weight block is loaded and unpacked once for C activation rows and an
// activation block once for R weight rows, and the R x C independent accumulator chains keep
// the FMA and VPDPBUSD units busy where a single dot waits on its one chain. out[4 * c + r].

template <int R, int C>
void tile_q8_0(const uint8_t* wv, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  const BlockQ8_0* w[R];
  const Q8Row* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(wv + r * wrb);
  for (int c = 0; c < C; ++c) a[c] = static_cast<const Q8Row*>(act[c]);
  const __m512i idx01 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1);
  const __m512i idx23 = _mm512_add_epi32(idx01, _mm512_set1_epi32(2));
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const int64_t nb = n / QK8_0;
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    __m128 ws[R];
    __m512i u0[R], u1[R];
    for (int r = 0; r < R; ++r) {
      const BlockQ8_0* x = w[r] + b;
      const uint64_t h = static_cast<uint64_t>(x[0].d) | (static_cast<uint64_t>(x[1].d) << 16) |
                         (static_cast<uint64_t>(x[2].d) << 32) | (static_cast<uint64_t>(x[3].d) << 48);
      ws[r] = _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(h)));
      u0[r] = unpack2<Q32::k8_0>(x);
      u1[r] = unpack2<Q32::k8_0>(x + 2);
    }
    for (int c = 0; c < C; ++c) {
      const __m128 ad = _mm_loadu_ps(a[c]->d + b);
      const __m512i bias0 = _mm512_slli_epi32(load512(a[c]->neg_sum8 + 8 * b), 4);
      const __m512i bias1 = _mm512_slli_epi32(load512(a[c]->neg_sum8 + 8 * b + 16), 4);
      const __m512i q0 = load512(a[c]->qs + b * QK8_0);
      const __m512i q1 = load512(a[c]->qs + (b + 2) * QK8_0);
      for (int r = 0; r < R; ++r) {
        const __m512 sc = _mm512_castps128_ps512(_mm_mul_ps(ws[r], ad));
        const __m512i p0 = _mm512_dpbusd_epi32(bias0, u0[r], q0);
        const __m512i p1 = _mm512_dpbusd_epi32(bias1, u1[r], q1);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p0), _mm512_permutexvar_ps(idx01, sc), acc[r][c]);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p1), _mm512_permutexvar_ps(idx23, sc), acc[r][c]);
      }
    }
  }
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      __m256 even = _mm512_castps512_ps256(acc[r][c]), odd = _mm512_extractf32x8_ps(acc[r][c], 1);
      for (int64_t t = b; t < nb; ++t) {
        const __m256i u = _mm256_xor_si256(loadu256(w[r][t].qs), flip);
        const __m256i p = _mm256_dpbusd_epi32(_mm256_set1_epi32(-16 * a[c]->sum[t]), u, loadu256(a[c]->qs + t * QK8_0));
        const __m256 sc = _mm256_set1_ps(half_to_float(w[r][t].d) * a[c]->d[t]);
        if (t % 2 == 0) {
          even = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sc, even);
        } else {
          odd = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sc, odd);
        }
      }
      out[4 * c + r] = hsum(_mm256_add_ps(even, odd));
    }
  }
}

template <Q32 T, int R, int C>
void tile_q32(const uint8_t* wv, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  using Tr = Q32Traits<T>;
  using Block = typename Tr::Block;
  const Block* w[R];
  const Q8Row* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const Block*>(wv + r * wrb);
  for (int c = 0; c < C; ++c) a[c] = static_cast<const Q8Row*>(act[c]);
  alignas(64) static constexpr int32_t kIdx4[16] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  const __m512i idx4 = _mm512_load_si512(kIdx4);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc0[R][C], acc1[R][C];
  __m128 corr[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      acc0[r][c] = acc1[r][c] = _mm512_setzero_ps();
      corr[r][c] = _mm_setzero_ps();
    }
  }
  const int64_t nb = n / QK8_0;
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    __m128 wd[R], wm[R];
    __m512i lo[R], hi[R];
    for (int r = 0; r < R; ++r) {
      const Block* x = w[r] + b;
      if constexpr (Tr::kMin) {
        wd[r] = scales4<T>(x, false);
        wm[r] = scales4<T>(x, true);
      } else {
        wd[r] = d4<T>(x);
        wm[r] = _mm_setzero_ps();
      }
      const __m512i q = load_qs4(x);
      lo[r] = _mm512_and_si512(q, low4);
      hi[r] = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
      if constexpr (T == Q32::k5_0 || T == Q32::k5_1) {
        __mmask64 mlo, mhi;
        q5_masks4(x, &mlo, &mhi);
        lo[r] = _mm512_mask_add_epi8(lo[r], mlo, lo[r], _mm512_set1_epi8(0x10));
        hi[r] = _mm512_mask_add_epi8(hi[r], mhi, hi[r], _mm512_set1_epi8(0x10));
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m128 ad = _mm_loadu_ps(a[c]->d + b);
      __m128 asd = _mm_setzero_ps();
      if constexpr (Tr::kMin) asd = _mm_loadu_ps(a[c]->sd + b);
      __m512i p0 = _mm512_setzero_si512();
      if constexpr (Tr::kBiasShift >= 0) {
        p0 = load512(a[c]->neg_sum4x2 + 4 * b);
        if constexpr (Tr::kBiasShift > 0) p0 = _mm512_slli_epi32(p0, Tr::kBiasShift);
      }
      const int8_t* an = a[c]->qs_nib + 32 * b;
      const __m512i an0 = load512(an), an1 = load512(an + 64);
      for (int r = 0; r < R; ++r) {
        const __m128 s4 = _mm_mul_ps(wd[r], ad);
        if constexpr (Tr::kMin) corr[r][c] = _mm_fmadd_ps(wm[r], asd, corr[r][c]);
        __m512i p = _mm512_dpbusd_epi32(p0, lo[r], an0);
        p = _mm512_dpbusd_epi32(p, hi[r], an1);
        const __m512 sc = _mm512_permutexvar_ps(idx4, _mm512_castps128_ps512(s4));
        if ((b & 4) == 0) {
          acc0[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, acc0[r][c]);
        } else {
          acc1[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, acc1[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[4 * c + r] = q32_finish<T>(acc0[r][c], acc1[r][c], corr[r][c], w[r], *a[c], b, nb);
  }
}

template <bool kFive, int R, int C>
void tile_qk4(const uint8_t* wv, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const Block* w[R];
  const BlockQ8_K* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const Block*>(wv + r * wrb);
  for (int c = 0; c < C; ++c) a[c] = static_cast<const BlockQ8_K*>(act[c]);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  __m512i idx[4], hbit[4];
  for (int j = 0; j < 4; ++j) {
    idx[j] = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(2 * j)),
                                _mm256_set1_epi16(static_cast<int16_t>(2 * j + 1)), 1);
    hbit[j] = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * j))),
                                 _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1))), 1);
  }
  __m512 acc[R][C];
  __m256 accm[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      acc[r][c] = _mm512_setzero_ps();
      accm[r][c] = _mm256_setzero_ps();
    }
  }
  for (int64_t b = 0; b < n / QK_K; ++b) {
    __m512i sc16[R], qh[R], isum[R][C];
    __m256i m16[R];
    for (int r = 0; r < R; ++r) {
      uint64_t sc8, m8;
      detail::unpack_scales_k4_words(w[r][b].scales, &sc8, &m8);
      sc16[r] = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(sc8))));
      const __m128i m8v = _mm_cvtsi64_si128(static_cast<int64_t>(m8));
      m16[r] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8v, m8v));
      qh[r] = _mm512_setzero_si512();
      if constexpr (kFive) qh[r] = _mm512_broadcast_i64x4(loadu256(w[r][b].qh));
      for (int c = 0; c < C; ++c) isum[r][c] = _mm512_setzero_si512();
    }
    for (int j = 0; j < 4; ++j) {
      __m512i v[R], sj[R];
      for (int r = 0; r < R; ++r) {
        const __m512i q = _mm512_broadcast_i64x4(loadu256(w[r][b].qs + 32 * j));
        v[r] = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4), low4);
        if constexpr (kFive) v[r] = _mm512_mask_add_epi8(v[r], _mm512_test_epi8_mask(qh[r], hbit[j]), v[r], bit4);
        sj[r] = _mm512_permutexvar_epi16(idx[j], sc16[r]);
      }
      for (int c = 0; c < C; ++c) {
        const __m512i aq = load512(a[c][b].qs + 64 * j);
        for (int r = 0; r < R; ++r) {
          isum[r][c] = _mm512_dpwssd_epi32(isum[r][c], _mm512_maddubs_epi16(v[r], aq), sj[r]);
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i bsums = loadu256(a[c][b].bsums);
      for (int r = 0; r < R; ++r) {
        const __m256i mins = _mm256_madd_epi16(bsums, m16[r]);
        const float d = half_to_float(w[r][b].d) * a[c][b].d;
        const float dmin = half_to_float(w[r][b].dmin) * a[c][b].d;
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][c]), _mm512_set1_ps(d), acc[r][c]);
        accm[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(dmin), accm[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[4 * c + r] = _mm512_reduce_add_ps(acc[r][c]) - hsum(accm[r][c]);
  }
}

template <int R, int C>
void tile_q6_K(const uint8_t* wv, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  const BlockQ6_K* w[R];
  const BlockQ8_K* a[C];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const BlockQ6_K*>(wv + r * wrb);
  for (int c = 0; c < C; ++c) a[c] = static_cast<const BlockQ8_K*>(act[c]);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i m30 = _mm512_set1_epi8(0x30);
  const __m512i shl0 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr1 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  __m512i idx[4];
  for (int c = 0; c < 4; ++c) {
    alignas(64) int16_t t[32];
    for (int i = 0; i < 32; ++i) t[i] = static_cast<int16_t>(4 * c + i / 8);
    idx[c] = _mm512_load_si512(t);
  }
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < n / QK_K; ++b) {
    __m512i sc16[R], isum[R][C];
    for (int r = 0; r < R; ++r) {
      const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r][b].scales)));
      sc16[r] = _mm512_castsi256_si512(sc);
      const __m256i neg32sc = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc, 5));
      for (int c = 0; c < C; ++c) {
        isum[r][c] = _mm512_zextsi256_si512(_mm256_madd_epi16(loadu256(a[c][b].bsums), neg32sc));
      }
    }
    for (int h = 0; h < 2; ++h) {
      __m512i q0[R], q1[R], s0[R], s1[R];
      for (int r = 0; r < R; ++r) {
        const __m512i l = load512(w[r][b].ql + 64 * h);
        const __m512i hb = _mm512_broadcast_i64x4(loadu256(w[r][b].qh + 32 * h));
        q0[r] = _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_and_si512(_mm512_sllv_epi16(hb, shl0), m30));
        q1[r] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                _mm512_and_si512(_mm512_srlv_epi16(hb, shr1), m30));
        s0[r] = _mm512_permutexvar_epi16(idx[2 * h], sc16[r]);
        s1[r] = _mm512_permutexvar_epi16(idx[2 * h + 1], sc16[r]);
      }
      for (int c = 0; c < C; ++c) {
        const __m512i a0 = load512(a[c][b].qs + 128 * h);
        const __m512i a1 = load512(a[c][b].qs + 128 * h + 64);
        for (int r = 0; r < R; ++r) {
          isum[r][c] = _mm512_dpwssd_epi32(isum[r][c], _mm512_maddubs_epi16(q0[r], a0), s0[r]);
          isum[r][c] = _mm512_dpwssd_epi32(isum[r][c], _mm512_maddubs_epi16(q1[r], a1), s1[r]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const float dw = half_to_float(w[r][b].d);
      for (int c = 0; c < C; ++c) {
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][c]), _mm512_set1_ps(dw * a[c][b].d), acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[4 * c + r] = _mm512_reduce_add_ps(acc[r][c]);
  }
}

// A 4x4 tile from R x C sub-tiles (the shape that keeps each type's state in registers).
template <int R, int C, void (*K)(const uint8_t*, uint64_t, const void* const*, int64_t, float*)>
void tile4x4(const void* w, uint64_t wrb, const void* const* act, int64_t n, float* out) {
  static_assert(4 % R == 0 && 4 % C == 0);
  const auto* wb = static_cast<const uint8_t*>(w);
  for (int r = 0; r < 4; r += R) {
    for (int c = 0; c < 4; c += C) K(wb + r * wrb, wrb, act + c, n, out + 4 * c + r);
  }
}

// The 4-row single-token product from R x 1 tiles (out[r] for C = 1).
template <int R, void (*K)(const uint8_t*, uint64_t, const void* const*, int64_t, float*)>
void rows4(const void* w, uint64_t wrb, const void* act, int64_t n, float* y) {
  static_assert(4 % R == 0);
  for (int r = 0; r < 4; r += R) K(static_cast<const uint8_t*>(w) + r * wrb, wrb, &act, n, y + r);
}

// ---- Batched products with weights unpacked once per call (Q4_0, Q5_0, Q8_0) ----
// The 4x4 tiles above unpack a weight block again for every pair of activation rows. Here a
// panel of weight rows is unpacked once into a buffer that stays in L2 (per 4 blocks: the 64 low
// and 64 high nibble bytes, then the 4 fp16 scales widened and spread to 16 lanes), and every
// activation row then meets it with loads alone. Per pair and 4 blocks that leaves two
// VPDPBUSD, one conversion, one multiply and one FMA. The scale product is formed lane-wise
// from the spread factors, which gives exactly the lanes of the dot's permuted 4-lane product,
// so every output is still bit-identical to dot_q32. Q8_0 weights are unpacked into the same
// layout (elements 0-15 of four blocks, then 16-31, sign-flipped), which halves the float work
// of its dot's llama.cpp order (8 lanes per block); its outputs differ from dot_q8_0 by float
// rounding only.

constexpr int64_t kUnpackedStep = 192;  // bytes per row per 4 blocks

template <Q32 T>
void unpack_q32_row(const typename Q32Traits<T>::Block* w, int64_t steps, uint8_t* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  alignas(64) static constexpr int32_t kIdx4[16] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  const __m512i idx4 = _mm512_load_si512(kIdx4);
  for (int64_t s = 0; s < steps; ++s) {
    const auto* x = w + 4 * s;
    const uint64_t h = static_cast<uint64_t>(x[0].d) | (static_cast<uint64_t>(x[1].d) << 16) |
                       (static_cast<uint64_t>(x[2].d) << 32) | (static_cast<uint64_t>(x[3].d) << 48);
    const __m128 wd = _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<int64_t>(h)));
    __m512i lo, hi;
    if constexpr (T == Q32::k8_0) {
      // Elements 0-15 of the four blocks, then 16-31 (the activations' qs_nib order), made
      // unsigned by the sign flip.
      const __m512i v01 = _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(x[0].qs)), loadu256(x[1].qs), 1);
      const __m512i v23 = _mm512_inserti64x4(_mm512_castsi256_si512(loadu256(x[2].qs)), loadu256(x[3].qs), 1);
      const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
      lo = _mm512_xor_si512(_mm512_shuffle_i64x2(v01, v23, _MM_SHUFFLE(2, 0, 2, 0)), flip);
      hi = _mm512_xor_si512(_mm512_shuffle_i64x2(v01, v23, _MM_SHUFFLE(3, 1, 3, 1)), flip);
    } else {
      const __m512i q = load_qs4(x);
      lo = _mm512_and_si512(q, low4);
      hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
    }
    if constexpr (T == Q32::k5_0) {
      __mmask64 mlo, mhi;
      q5_masks4(x, &mlo, &mhi);
      lo = _mm512_mask_add_epi8(lo, mlo, lo, _mm512_set1_epi8(0x10));
      hi = _mm512_mask_add_epi8(hi, mhi, hi, _mm512_set1_epi8(0x10));
    }
    uint8_t* o = out + s * kUnpackedStep;
    _mm512_store_si512(o, lo);
    _mm512_store_si512(o + 64, hi);
    // The scales spread to the 4 lanes of their block (as the dot's permute places them).
    _mm512_store_ps(reinterpret_cast<float*>(o + 128), _mm512_permutexvar_ps(idx4, _mm512_castps128_ps512(wd)));
  }
}

// R unpacked weight rows (ustride bytes apart) x C activation rows: y[c * ys + r]. The dot
// alternates two accumulator sets every 4 blocks; here the even steps run first into one set,
// then the odd steps into the other (each set still sums in step order, so the result is the
// same), which keeps only R x C accumulators live and leaves registers for a 4 x 4 tile.
// Per pair and step: two VPDPBUSD, one conversion, one multiply of the spread weight scales
// (a memory operand) with the activation scales spread once per activation row, one FMA.
template <Q32 T, int R, int C>
void gemm_q32_block(const uint8_t* up, int64_t ustride, const typename Q32Traits<T>::Block* const* wraw,
                    const Q8Row* const* a, int64_t steps, int64_t nb, float* y, int64_t ys) {
  using Tr = Q32Traits<T>;
  static_assert(!Tr::kMin, "the unpacked layout has no mins");
  alignas(64) static constexpr int32_t kIdx4[16] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  const __m512i idx4 = _mm512_load_si512(kIdx4);
  __m512 even[R][C], acc[R][C];
  for (int h = 0; h < 2; ++h) {
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    }
    for (int64_t s = h; s < steps; s += 2) {
      const int64_t b = 4 * s;
      __m512i lo[R], hi[R];
      const float* wd[R];
      for (int r = 0; r < R; ++r) {
        const uint8_t* u = up + r * ustride + s * kUnpackedStep;
        lo[r] = _mm512_load_si512(u);
        hi[r] = _mm512_load_si512(u + 64);
        wd[r] = reinterpret_cast<const float*>(u + 128);
      }
      for (int c = 0; c < C; ++c) {
        const __m512 ad = _mm512_permutexvar_ps(idx4, _mm512_castps128_ps512(_mm_loadu_ps(a[c]->d + b)));
        __m512i p0 = load512(a[c]->neg_sum4x2 + 4 * b);
        if constexpr (Tr::kBiasShift > 0) p0 = _mm512_slli_epi32(p0, Tr::kBiasShift);
        const int8_t* an = a[c]->qs_nib + 32 * b;
        const __m512i an0 = load512(an), an1 = load512(an + 64);
        for (int r = 0; r < R; ++r) {
          __m512i p = _mm512_dpbusd_epi32(p0, lo[r], an0);
          p = _mm512_dpbusd_epi32(p, hi[r], an1);
          const __m512 sc = _mm512_mul_ps(_mm512_load_ps(wd[r]), ad);
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, acc[r][c]);
        }
      }
    }
    if (h == 0) {
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) even[r][c] = acc[r][c];
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      y[c * ys + r] = q32_finish<T>(even[r][c], acc[r][c], _mm_setzero_ps(), wraw[r], *a[c], 4 * steps, nb);
    }
  }
}

template <Q32 T, int R>
void gemm_q32_rows(const uint8_t* up, int64_t ustride, const typename Q32Traits<T>::Block* const* wraw,
                   const Q8Row* const* a, int64_t m, int64_t steps, int64_t nb, float* y, int64_t ys) {
  constexpr int kC = R == 4 ? 4 : 8;  // up to 16 accumulators
  int64_t i = 0;
  for (; i + kC <= m; i += kC) gemm_q32_block<T, R, kC>(up, ustride, wraw, a + i, steps, nb, y + i * ys, ys);
  for (; i < m; ++i) gemm_q32_block<T, R, 1>(up, ustride, wraw, a + i, steps, nb, y + i * ys, ys);
}

// The 64-byte-aligned per-thread buffer the batched quantized GEMMs unpack a weight panel into;
// it only grows. One buffer serves every type: the GEMMs never nest.
uint8_t* unpack_scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  buf.resize(bytes + 64);
  const auto base = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + (64 - base % 64) % 64;
}

template <Q32 T>
void gemm_q32(const void* w, uint64_t wrb, int64_t rows, const void* const* act, int64_t m, int64_t n,
              float* y, int64_t ys) {
  using Block = typename Q32Traits<T>::Block;
  const int64_t nb = n / QK8_0, steps = nb / 4;
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t ustride = std::max<int64_t>(steps, 1) * kUnpackedStep;
  // A panel of about 256 KiB unpacked stays in L2 while all activation rows pass over it.
  const int64_t panel = std::clamp<int64_t>((int64_t{256} << 10) / ustride / 2 * 2, 2, 512);
  uint8_t* up = unpack_scratch(static_cast<size_t>(panel * ustride));
  for (int64_t p0 = 0; p0 < rows; p0 += panel) {
    const int64_t np = std::min(panel, rows - p0);
    for (int64_t r = 0; r < np; ++r) {
      unpack_q32_row<T>(reinterpret_cast<const Block*>(wb + static_cast<uint64_t>(p0 + r) * wrb), steps,
                        up + r * ustride);
    }
    // Activation groups outside, row pairs inside: a group's blocks stay in L1 while the panel
    // streams from L2.
    for (int64_t i = 0; i < m; i += 8) {
      const int64_t mi = std::min<int64_t>(8, m - i);
      const Q8Row* a[8];
      for (int64_t j = 0; j < mi; ++j) a[j] = static_cast<const Q8Row*>(act[i + j]);
      const Block* wr[4];
      auto raw = [&](int64_t r, int k) {
        for (int j = 0; j < k; ++j) wr[j] = reinterpret_cast<const Block*>(wb + static_cast<uint64_t>(p0 + r + j) * wrb);
      };
      int64_t r = 0;
      for (; r + 4 <= np; r += 4) {
        raw(r, 4);
        gemm_q32_rows<T, 4>(up + r * ustride, ustride, wr, a, mi, steps, nb, y + i * ys + p0 + r, ys);
      }
      for (; r + 2 <= np; r += 2) {
        raw(r, 2);
        gemm_q32_rows<T, 2>(up + r * ustride, ustride, wr, a, mi, steps, nb, y + i * ys + p0 + r, ys);
      }
      for (; r < np; ++r) {
        raw(r, 1);
        gemm_q32_rows<T, 1>(up + r * ustride, ustride, wr, a, mi, steps, nb, y + i * ys + p0 + r, ys);
      }
    }
  }
}

// ---- Batched Q6_K product with weights unpacked once per call ----
// Same idea as gemm_q32 for the K-quant of the FFN down projections in Q4_K_M files: per
// 256-element block and row the buffer holds the four 6-bit weight vectors and their four
// spread scale vectors exactly as tile_q6_K builds them, then -32 * scales for the offset and
// the block's d. Integer sums are exact in any order and the float steps are the dot's, so
// outputs equal dot_q6_K bit for bit.

constexpr int64_t kQ6Step = 576;  // bytes per row per block: 8 zmm, 16 int16, d

void unpack_q6_K_row(const BlockQ6_K* w, int64_t nb, uint8_t* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i m30 = _mm512_set1_epi8(0x30);
  const __m512i shl0 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr1 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
  __m512i idx[4];
  for (int c = 0; c < 4; ++c) {
    alignas(64) int16_t t[32];
    for (int i = 0; i < 32; ++i) t[i] = static_cast<int16_t>(4 * c + i / 8);
    idx[c] = _mm512_load_si512(t);
  }
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = out + b * kQ6Step;
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].scales)));
    const __m512i sc16 = _mm512_castsi256_si512(sc);
    for (int h = 0; h < 2; ++h) {
      const __m512i l = load512(w[b].ql + 64 * h);
      const __m512i hb = _mm512_broadcast_i64x4(loadu256(w[b].qh + 32 * h));
      _mm512_store_si512(o + 128 * h, _mm512_or_si512(_mm512_and_si512(l, low4),
                                                      _mm512_and_si512(_mm512_sllv_epi16(hb, shl0), m30)));
      _mm512_store_si512(o + 128 * h + 64, _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                                           _mm512_and_si512(_mm512_srlv_epi16(hb, shr1), m30)));
      _mm512_store_si512(o + 256 + 128 * h, _mm512_permutexvar_epi16(idx[2 * h], sc16));
      _mm512_store_si512(o + 256 + 128 * h + 64, _mm512_permutexvar_epi16(idx[2 * h + 1], sc16));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(o + 512), _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(sc, 5)));
    const float d = half_to_float(w[b].d);
    std::memcpy(o + 544, &d, 4);
  }
}

template <int R, int C>
void gemm_q6_K_block(const uint8_t* up, int64_t ustride, const BlockQ8_K* const* a, int64_t nb, float* y,
                     int64_t ys) {
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m512i isum[R][C];
    for (int r = 0; r < R; ++r) {
      const __m256i neg32sc = _mm256_load_si256(reinterpret_cast<const __m256i*>(up + r * ustride + b * kQ6Step + 512));
      for (int c = 0; c < C; ++c) {
        isum[r][c] = _mm512_zextsi256_si512(_mm256_madd_epi16(loadu256(a[c][b].bsums), neg32sc));
      }
    }
    for (int h = 0; h < 2; ++h) {
      __m512i a0[C], a1[C];
      for (int c = 0; c < C; ++c) {
        a0[c] = load512(a[c][b].qs + 128 * h);
        a1[c] = load512(a[c][b].qs + 128 * h + 64);
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* u = up + r * ustride + b * kQ6Step;
        const __m512i q0 = _mm512_load_si512(u + 128 * h), q1 = _mm512_load_si512(u + 128 * h + 64);
        const __m512i s0 = _mm512_load_si512(u + 256 + 128 * h), s1 = _mm512_load_si512(u + 256 + 128 * h + 64);
        for (int c = 0; c < C; ++c) {
          isum[r][c] = _mm512_dpwssd_epi32(isum[r][c], _mm512_maddubs_epi16(q0, a0[c]), s0);
          isum[r][c] = _mm512_dpwssd_epi32(isum[r][c], _mm512_maddubs_epi16(q1, a1[c]), s1);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      float dw;
      std::memcpy(&dw, up + r * ustride + b * kQ6Step + 544, 4);
      for (int c = 0; c < C; ++c) {
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][c]), _mm512_set1_ps(dw * a[c][b].d), acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) y[c * ys + r] = _mm512_reduce_add_ps(acc[r][c]);
  }
}

template <int R>
void gemm_q6_K_rows(const uint8_t* up, int64_t ustride, const BlockQ8_K* const* a, int64_t m, int64_t nb,
                    float* y, int64_t ys) {
  int64_t i = 0;
  for (; i + 2 <= m; i += 2) gemm_q6_K_block<R, 2>(up, ustride, a + i, nb, y + i * ys, ys);
  if (i < m) gemm_q6_K_block<R, 1>(up, ustride, a + i, nb, y + i * ys, ys);
}

void gemm_q6_K(const void* w, uint64_t wrb, int64_t rows, const void* const* act, int64_t m, int64_t n,
               float* y, int64_t ys) {
  const int64_t nb = n / QK_K;
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t ustride = nb * kQ6Step;
  const int64_t panel = std::clamp<int64_t>((int64_t{256} << 10) / ustride / 4 * 4, 4, 512);
  uint8_t* up = unpack_scratch(static_cast<size_t>(panel * ustride));
  for (int64_t p0 = 0; p0 < rows; p0 += panel) {
    const int64_t np = std::min(panel, rows - p0);
    for (int64_t r = 0; r < np; ++r) {
      unpack_q6_K_row(reinterpret_cast<const BlockQ6_K*>(wb + static_cast<uint64_t>(p0 + r) * wrb), nb,
                      up + r * ustride);
    }
    for (int64_t i = 0; i < m; i += 8) {
      const int64_t mi = std::min<int64_t>(8, m - i);
      const BlockQ8_K* a[8];
      for (int64_t j = 0; j < mi; ++j) a[j] = static_cast<const BlockQ8_K*>(act[i + j]);
      int64_t r = 0;
      for (; r + 4 <= np; r += 4) gemm_q6_K_rows<4>(up + r * ustride, ustride, a, mi, nb, y + i * ys + p0 + r, ys);
      for (; r < np; ++r) gemm_q6_K_rows<1>(up + r * ustride, ustride, a, mi, nb, y + i * ys + p0 + r, ys);
    }
  }
}

// ---- Batched Q4_K / Q5_K product with weights unpacked once per call ----
// Per block and row: the four 64-element weight vectors and spread scale vectors as tile_qk4
// builds them, the mins widened to int16 pairs, d and dmin. Outputs equal dot_qk4 bit for bit.

constexpr int64_t kQk4Step = 576;

template <bool kFive>
void unpack_qk4_row(const std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>* w, int64_t nb, uint8_t* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bit4 = _mm512_set1_epi8(0x10);
  __m512i idx[4], hbit[4];
  for (int j = 0; j < 4; ++j) {
    idx[j] = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(2 * j)),
                                _mm256_set1_epi16(static_cast<int16_t>(2 * j + 1)), 1);
    hbit[j] = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * j))),
                                 _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1))), 1);
  }
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = out + b * kQk4Step;
    uint64_t sc8, m8;
    detail::unpack_scales_k4_words(w[b].scales, &sc8, &m8);
    const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(sc8))));
    const __m128i m8v = _mm_cvtsi64_si128(static_cast<int64_t>(m8));
    __m512i qh = _mm512_setzero_si512();
    if constexpr (kFive) qh = _mm512_broadcast_i64x4(loadu256(w[b].qh));
    for (int j = 0; j < 4; ++j) {
      const __m512i q = _mm512_broadcast_i64x4(loadu256(w[b].qs + 32 * j));
      __m512i v = _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4), low4);
      if constexpr (kFive) v = _mm512_mask_add_epi8(v, _mm512_test_epi8_mask(qh, hbit[j]), v, bit4);
      _mm512_store_si512(o + 64 * j, v);
      _mm512_store_si512(o + 256 + 64 * j, _mm512_permutexvar_epi16(idx[j], sc16));
    }
    _mm256_store_si256(reinterpret_cast<__m256i*>(o + 512), _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8v, m8v)));
    const float d = half_to_float(w[b].d), dmin = half_to_float(w[b].dmin);
    std::memcpy(o + 544, &d, 4);
    std::memcpy(o + 548, &dmin, 4);
  }
}

template <int R, int C>
void gemm_qk4_block(const uint8_t* up, int64_t ustride, const BlockQ8_K* const* a, int64_t nb, float* y,
                    int64_t ys) {
  __m512 acc[R][C];
  __m256 accm[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      acc[r][c] = _mm512_setzero_ps();
      accm[r][c] = _mm256_setzero_ps();
    }
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m512i isum[R][C];
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) isum[r][c] = _mm512_setzero_si512();
    }
    for (int j = 0; j < 4; ++j) {
      __m512i aq[C];
      for (int c = 0; c < C; ++c) aq[c] = load512(a[c][b].qs + 64 * j);
      for (int r = 0; r < R; ++r) {
        const uint8_t* u = up + r * ustride + b * kQk4Step;
        const __m512i v = _mm512_load_si512(u + 64 * j), sj = _mm512_load_si512(u + 256 + 64 * j);
        for (int c = 0; c < C; ++c) {
          isum[r][c] = _mm512_dpwssd_epi32(isum[r][c], _mm512_maddubs_epi16(v, aq[c]), sj);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      const uint8_t* u = up + r * ustride + b * kQk4Step;
      const __m256i m16 = _mm256_load_si256(reinterpret_cast<const __m256i*>(u + 512));
      float dw, dmw;
      std::memcpy(&dw, u + 544, 4);
      std::memcpy(&dmw, u + 548, 4);
      for (int c = 0; c < C; ++c) {
        const __m256i mins = _mm256_madd_epi16(loadu256(a[c][b].bsums), m16);
        const float d = dw * a[c][b].d;
        const float dmin = dmw * a[c][b].d;
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[r][c]), _mm512_set1_ps(d), acc[r][c]);
        accm[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(dmin), accm[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) y[c * ys + r] = _mm512_reduce_add_ps(acc[r][c]) - hsum(accm[r][c]);
  }
}

template <int R>
void gemm_qk4_rows(const uint8_t* up, int64_t ustride, const BlockQ8_K* const* a, int64_t m, int64_t nb,
                   float* y, int64_t ys) {
  int64_t i = 0;
  for (; i + 2 <= m; i += 2) gemm_qk4_block<R, 2>(up, ustride, a + i, nb, y + i * ys, ys);
  if (i < m) gemm_qk4_block<R, 1>(up, ustride, a + i, nb, y + i * ys, ys);
}

template <bool kFive>
void gemm_qk4(const void* w, uint64_t wrb, int64_t rows, const void* const* act, int64_t m, int64_t n,
              float* y, int64_t ys) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const int64_t nb = n / QK_K;
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t ustride = nb * kQk4Step;
  const int64_t panel = std::clamp<int64_t>((int64_t{256} << 10) / ustride / 4 * 4, 4, 512);
  uint8_t* up = unpack_scratch(static_cast<size_t>(panel * ustride));
  for (int64_t p0 = 0; p0 < rows; p0 += panel) {
    const int64_t np = std::min(panel, rows - p0);
    for (int64_t r = 0; r < np; ++r) {
      unpack_qk4_row<kFive>(reinterpret_cast<const Block*>(wb + static_cast<uint64_t>(p0 + r) * wrb), nb,
                            up + r * ustride);
    }
    for (int64_t i = 0; i < m; i += 8) {
      const int64_t mi = std::min<int64_t>(8, m - i);
      const BlockQ8_K* a[8];
      for (int64_t j = 0; j < mi; ++j) a[j] = static_cast<const BlockQ8_K*>(act[i + j]);
      int64_t r = 0;
      for (; r + 4 <= np; r += 4) gemm_qk4_rows<4>(up + r * ustride, ustride, a, mi, nb, y + i * ys + p0 + r, ys);
      for (; r < np; ++r) gemm_qk4_rows<1>(up + r * ustride, ustride, a, mi, nb, y + i * ys + p0 + r, ys);
    }
  }
}

// ---- Packing float weights for gemm6x64_f32 ----
// Transposes 16 rows x 16 columns in registers (unpacks within 128-bit lanes, then two rounds of
// lane shuffles): r[i] holds row i on entry and column i on return.
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // u[4 g + k], 128-bit lane L: rows 4g..4g+3 of column 4L + k.
  for (int k = 0; k < 4; ++k) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44), v1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE);
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x44);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xEE);
    r[k] = _mm512_shuffle_f32x4(v0, w0, 0x88);
    r[4 + k] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
    r[8 + k] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[12 + k] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
  }
}

// wp[64 * kk + r] = row r, column kk for r < 64 (rows past nr are zero), kk < kc.
template <class W>
void pack64(const W* w, int64_t ws, int64_t nr, int64_t kc, float* wp) {
  for (int64_t k0 = 0; k0 < kc; k0 += 16) {
    const int64_t nk = std::min<int64_t>(16, kc - k0);
    const __mmask16 km = nk == 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(nk);
    for (int j = 0; j < 4; ++j) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        const int64_t row = 16 * j + i;
        r[i] = row < nr ? wload(w + row * ws + k0, km) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int64_t c = 0; c < nk; ++c) _mm512_store_ps(wp + 64 * (k0 + c) + 16 * j, r[c]);
    }
  }
}

void pack64_f32(const float* w, int64_t ws, int64_t nr, int64_t kc, float* wp) { pack64(w, ws, nr, kc, wp); }
void pack64_f16(const uint16_t* w, int64_t ws, int64_t nr, int64_t kc, float* wp) { pack64(w, ws, nr, kc, wp); }


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
  t.tile4x4_f32 = k::tile4x4_f32;
  t.tile4x4_f16 = k::tile4x4_f16;
  t.matvec_f16 = k::matvec_f16;
  t.gemm6x64_f32 = k::gemm6x64_f32;
  t.gemv64_f16 = k::gemv64_f16;
  t.pack64_f32 = k::pack64_f32;
  t.pack64_f16 = k::pack64_f16;
  t.dot_q8_0 = k::dot_q8_0;
  t.dot_q4_0 = k::dot_q32<k::Q32::k4_0>;
  t.dot_q4_1 = k::dot_q32<k::Q32::k4_1>;
  t.dot_q5_0 = k::dot_q32<k::Q32::k5_0>;
  t.dot_q5_1 = k::dot_q32<k::Q32::k5_1>;
  t.dot_q4_K = k::dot_qk4<false>;
  t.dot_q5_K = k::dot_qk4<true>;
  t.dot_q6_K = k::dot_q6_K;
  t.tile4x4_q8_0 = k::tile4x4<4, 4, k::tile_q8_0<4, 4>>;
  t.tile4x4_q4_0 = k::tile4x4<4, 2, k::tile_q32<k::Q32::k4_0, 4, 2>>;
  t.tile4x4_q4_1 = k::tile4x4<4, 2, k::tile_q32<k::Q32::k4_1, 4, 2>>;
  t.tile4x4_q5_0 = k::tile4x4<4, 2, k::tile_q32<k::Q32::k5_0, 4, 2>>;
  t.tile4x4_q5_1 = k::tile4x4<4, 2, k::tile_q32<k::Q32::k5_1, 4, 2>>;
  t.tile4x4_q4_K = k::tile4x4<4, 2, k::tile_qk4<false, 4, 2>>;
  t.tile4x4_q5_K = k::tile4x4<4, 2, k::tile_qk4<true, 4, 2>>;
  t.tile4x4_q6_K = k::tile4x4<4, 2, k::tile_q6_K<4, 2>>;
  t.rows4_q8_0 = k::rows4<4, k::tile_q8_0<4, 1>>;
  t.rows4_q4_0 = k::rows4<4, k::tile_q32<k::Q32::k4_0, 4, 1>>;
  t.rows4_q4_1 = k::rows4<4, k::tile_q32<k::Q32::k4_1, 4, 1>>;
  t.rows4_q5_0 = k::rows4<4, k::tile_q32<k::Q32::k5_0, 4, 1>>;
  t.rows4_q5_1 = k::rows4<4, k::tile_q32<k::Q32::k5_1, 4, 1>>;
  t.rows4_q4_K = k::rows4<4, k::tile_qk4<false, 4, 1>>;
  t.rows4_q5_K = k::rows4<4, k::tile_qk4<true, 4, 1>>;
  t.rows4_q6_K = k::rows4<4, k::tile_q6_K<4, 1>>;
  t.gemm_q4_0 = k::gemm_q32<k::Q32::k4_0>;
  t.gemm_q8_0 = k::gemm_q32<k::Q32::k8_0>;
  t.gemm_q5_0 = k::gemm_q32<k::Q32::k5_0>;
  t.gemm_q6_K = k::gemm_q6_K;
  t.gemm_q4_K = k::gemm_qk4<false>;
  t.gemm_q5_K = k::gemm_qk4<true>;
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
