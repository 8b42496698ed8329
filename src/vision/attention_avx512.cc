// The AVX-512 self-attention of vision/attention.h, fused per block of 6 query rows of one head
// so the score rows stay in L1/L2 and every pass over them is one stream:
//   1. S = q' K^T over 64-key panels, with q' = q * scale * log2(e) packed per block (so the
//      scores come out in log2 units and need no multiply) and K packed k-major per head, as the
//      6 x 64 GEMM block takes it; each panel's scores fold into a running row maximum as they
//      leave the registers;
//   2. P = 2^(S - max) in place, the row sums taken in the same pass;
//   3. O = P V over V's rows (packed [key][64] per 64 head columns), each output row scaled by
//      1 / sum on its way out, so P itself is never normalized (64 multiplies per row instead
//      of n).
// Everything the scores go through is float. 2^y splits y into k + i/16 + f with |f| <= 1/32:
// a 16-entry table, a cubic and the exponent bits (<= 1.6 ulp), four multiplies per 16 scores
// where e^x by a degree-7 polynomial took twelve; the exp ran at ~8 % of the attention's time.
#include "core/intrinsics.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "core/isa_region.h"
#include "core/kernels.h"
#include "core/thread_pool.h"
#include "vision/attention_avx512.h"

// Headers above keep their own targets; everything defined below is AVX-512 (called only
// when the kernel level is).
OMNI_ISA_BEGIN("avx2,fma,avx512f,avx512dq")

namespace omni::vision::detail {
namespace {

constexpr int64_t kPanel = 64;  // keys of one score panel, head columns of one output panel
constexpr int64_t kRows = 6;    // query rows of one block
constexpr int64_t kGroup = 8;   // blocks whose query rows are packed together

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

struct AlignedFree {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};

// Scratch that lives across calls (one per thread): fresh pages for the packs would be faulted in
// and zeroed on every layer.
struct Buffer {
  std::unique_ptr<float[], AlignedFree> p;
  int64_t cap = 0;
  float* get(int64_t n) {
    if (n > cap) {
      p.reset(static_cast<float*>(::operator new[](static_cast<size_t>(n) * sizeof(float),
                                                   std::align_val_t{64})));
      cap = n;
    }
    return p.get();
  }
};

// The first r lanes (none for r <= 0).
inline __mmask16 lanes(int64_t r) {
  if (r <= 0) return 0;
  return r >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << r) - 1u);
}

// 2^(i/16), i = 0..15, rounded to float.
alignas(64) constexpr float kExp2Table[16] = {
    1.000000000e+00f, 1.044273734e+00f, 1.090507746e+00f, 1.138788581e+00f,
    1.189207077e+00f, 1.241857767e+00f, 1.296839595e+00f, 1.354255557e+00f,
    1.414213538e+00f, 1.476826191e+00f, 1.542210817e+00f, 1.610490322e+00f,
    1.681792855e+00f, 1.756252170e+00f, 1.834008098e+00f, 1.915206552e+00f};

// 2^y for y <= 0 (scores minus their row maximum, log2 units), 0 below -125 (so every
// result is a normal float). Adding 1.5 * 2^19 rounds y to a multiple of 1/16 (that float's
// ulp) and leaves round(16 y) = 16 k + i (0 <= i < 16) in the low mantissa bits: 2^(i/16) comes
// from the table, k goes straight into its exponent field, and 2^f for the remainder |f| <= 1/32
// is a cubic (relative error 1.6e-9, fitted for minimal relative error with 2^0 = 1 exactly).
// Only the cubic and the last product use the FMA pipes the score and output products saturate.
inline __m512 exp2_nonpos(__m512 y) {
  const __m512 shift = _mm512_set1_ps(786432.0f);  // 1.5 * 2^19
  const __m512 z = _mm512_add_ps(y, shift);
  const __m512 f = _mm512_sub_ps(y, _mm512_sub_ps(z, shift));
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(5.550213524e-2f), f, _mm512_set1_ps(2.402342888e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471827e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  const __m512i zi = _mm512_castps_si512(z);
  const __m512 t = _mm512_permutexvar_ps(zi, _mm512_load_ps(kExp2Table));  // index: low 4 bits
  // (z >> 4) << 23 = k << 23 (mod 2^32): the table entry's exponent plus k.
  const __m512i k = _mm512_slli_epi32(_mm512_srli_epi32(zi, 4), 23);
  const __m512 scale = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(t), k));
  return _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(y, _mm512_set1_ps(-125.0f), _CMP_GE_OQ), p,
                             scale);
}

// Scores of M query rows (copied and scaled, qp[a * dh + e]) against one packed key panel
// (kp[64 * e + key]): s[a * ns + key] = q'_a . k_key for the `valid` keys of the panel (the
// others are not stored); mx[a] takes their maximum. Only the first NV 16-key vectors are
// computed (a short last panel, like LLaVA's 577th key alone in its panel, costs 1/4 of a full
// one); the sums of the computed keys do not depend on NV. Every index is a constant once
// unrolled, so the 24 accumulators stay in registers through the epilogue; the maxima stay in
// memory (with them in registers too the key vectors would spill). Not inlined, so the caller's
// loop state does not compete for the registers either.
template <int M, int NV>
__attribute__((noinline)) void score_panel(const float* kp, int64_t dh, const float* qp,
                                           int64_t valid, float* s, int64_t ns, __m512* mx) {
  __m512 acc[M][NV];
#pragma GCC unroll 8
  for (int a = 0; a < M; ++a) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[a][j] = _mm512_setzero_ps();
  }
  for (int64_t e = 0; e < dh; ++e) {
    const float* w = kp + kPanel * e;
    __m512 wv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) wv[j] = _mm512_load_ps(w + 16 * j);
#pragma GCC unroll 8
    for (int a = 0; a < M; ++a) {
      const __m512 x = _mm512_set1_ps(qp[a * dh + e]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[a][j] = _mm512_fmadd_ps(wv[j], x, acc[a][j]);
    }
  }
  if (NV == 4 && valid == kPanel) {  // a full panel: plain stores, a max tree per row
#pragma GCC unroll 8
    for (int a = 0; a < M; ++a) {
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) _mm512_storeu_ps(s + a * ns + 16 * j, acc[a][j]);
      const __m512 m01 = _mm512_max_ps(acc[a][0], acc[a][NV > 1 ? 1 : 0]);
      const __m512 m23 = _mm512_max_ps(acc[a][NV > 2 ? 2 : 0], acc[a][NV > 3 ? 3 : 0]);
      mx[a] = _mm512_max_ps(mx[a], _mm512_max_ps(m01, m23));
    }
    return;
  }
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) {
    const __mmask16 m = lanes(valid - 16 * j);  // no lanes past the valid keys
#pragma GCC unroll 8
    for (int a = 0; a < M; ++a) {
      _mm512_mask_storeu_ps(s + a * ns + 16 * j, m, acc[a][j]);
      mx[a] = _mm512_mask_max_ps(mx[a], m, mx[a], acc[a][j]);
    }
  }
}

// o[a * ldo + c] = inv[a] * sum_{key < n} p[a * ns + key] vp[64 * key + c] for c < ne.
template <int M>
void output_panel(const float* vp, int64_t n, const float* p, int64_t ns, const float* inv,
                  int64_t ne, float* o, int64_t ldo) {
  __m512 acc[M][4];
  for (int a = 0; a < M; ++a) {
    for (int j = 0; j < 4; ++j) acc[a][j] = _mm512_setzero_ps();
  }
  for (int64_t key = 0; key < n; ++key) {
    const float* w = vp + kPanel * key;
    const __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
    const __m512 w2 = _mm512_load_ps(w + 32), w3 = _mm512_load_ps(w + 48);
    for (int a = 0; a < M; ++a) {
      const __m512 x = _mm512_set1_ps(p[a * ns + key]);
      acc[a][0] = _mm512_fmadd_ps(w0, x, acc[a][0]);
      acc[a][1] = _mm512_fmadd_ps(w1, x, acc[a][1]);
      acc[a][2] = _mm512_fmadd_ps(w2, x, acc[a][2]);
      acc[a][3] = _mm512_fmadd_ps(w3, x, acc[a][3]);
    }
  }
  for (int a = 0; a < M; ++a) {
    const __m512 sc = _mm512_set1_ps(inv[a]);
    for (int j = 0; j < 4; ++j) {
      const __mmask16 m = lanes(ne - 16 * j);
      if (m == 0) break;
      _mm512_mask_storeu_ps(o + a * ldo + 16 * j, m, _mm512_mul_ps(acc[a][j], sc));
    }
  }
}

// Softmax numerators of one score row (log2 units) in place (n floats), returning their sum.
float exp_row(float* s, int64_t n, float mx) {
  const __m512 m = _mm512_set1_ps(mx);
  __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m512 e0 = exp2_nonpos(_mm512_sub_ps(_mm512_loadu_ps(s + j), m));
    const __m512 e1 = exp2_nonpos(_mm512_sub_ps(_mm512_loadu_ps(s + j + 16), m));
    _mm512_storeu_ps(s + j, e0);
    _mm512_storeu_ps(s + j + 16, e1);
    sum0 = _mm512_add_ps(sum0, e0);
    sum1 = _mm512_add_ps(sum1, e1);
  }
  for (; j < n; j += 16) {
    const __mmask16 k = lanes(n - j);
    const __m512 e = exp2_nonpos(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), m));
    _mm512_mask_storeu_ps(s + j, k, e);
    sum0 = _mm512_add_ps(sum0, _mm512_maskz_mov_ps(k, e));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

// Query rows [0, m) of one head copied and scaled for score_panel: row i at qp + i * dh is
// q[i * ldq + e] * qscale, rows past m up to a whole block are zeros. The rows are ld floats
// apart in a matrix far larger than L2 (and usually just written around the caches): copying a
// group of blocks' rows in one go keeps many misses in flight, where each block reading its own
// rows stalled on them.
void pack_queries(const float* q, int64_t ldq, int64_t m, int64_t dh, float qscale, float* qp) {
  const __m512 sc = _mm512_set1_ps(qscale);
  for (int64_t i = 0; i < round_up(m, kRows); ++i) {
    for (int64_t e = 0; e < dh; e += 16) {
      const __mmask16 k = lanes(dh - e);
      _mm512_mask_storeu_ps(qp + i * dh + e, k,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(i < m ? k : 0, q + i * ldq + e), sc));
    }
  }
}

template <int M>
void block(const float* K, const float* V, int64_t n, int64_t dh, const float* qp, float* s,
           int64_t ns, float* o, int64_t ldo) {
  const int64_t key_panels = round_up(n, kPanel) / kPanel;
  __m512 mx[M];
  for (int a = 0; a < M; ++a) mx[a] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t p = 0; p < key_panels; ++p) {
    const int64_t valid = std::min(kPanel, n - p * kPanel);
    const float* kpp = K + p * kPanel * dh;
    float* sp = s + p * kPanel;
    switch ((valid + 15) / 16) {
      case 1: score_panel<M, 1>(kpp, dh, qp, valid, sp, ns, mx); break;
      case 2: score_panel<M, 2>(kpp, dh, qp, valid, sp, ns, mx); break;
      case 3: score_panel<M, 3>(kpp, dh, qp, valid, sp, ns, mx); break;
      default: score_panel<M, 4>(kpp, dh, qp, valid, sp, ns, mx); break;
    }
  }
  float inv[M];
  for (int a = 0; a < M; ++a) {
    inv[a] = 1.0f / exp_row(s + a * ns, n, _mm512_reduce_max_ps(mx[a]));
  }
  for (int64_t e0 = 0; e0 < dh; e0 += kPanel) {
    output_panel<M>(V + e0 * n, n, s, ns, inv, std::min(kPanel, dh - e0), o + e0, ldo);
  }
}

using BlockFn = void (*)(const float*, const float*, int64_t, int64_t, const float*, float*,
                         int64_t, float*, int64_t);
constexpr BlockFn kBlocks[kRows + 1] = {nullptr,  block<1>, block<2>, block<3>,
                                        block<4>, block<5>, block<6>};

}  // namespace

void self_attention_avx512(const kernels::KernelTable& kt, const float* q, const float* k,
                           const float* v, int64_t ld, int64_t n, int n_head, int64_t d,
                           float scale, float* out, ThreadPool& pool) {
  const int64_t dh = d / n_head;
  const int64_t key_panels = round_up(n, kPanel) / kPanel;
  const int64_t out_panels = round_up(dh, kPanel) / kPanel;
  const int64_t k_head = key_panels * kPanel * dh;  // floats of one head's packed K
  const int64_t v_head = out_panels * n * kPanel;   // floats of one head's packed V
  // Scores in log2 units: softmax(x) = 2^(x log2(e) - max) / sum.
  const float qscale = static_cast<float>(static_cast<double>(scale) * 1.4426950408889634);
  const int64_t ns = round_up(n, 16) + 16;  // score row stride, off a power of two
  // Packed K (k-major 64-key panels) and V ([key][64] panels of head columns) of head h.
  const auto pack_head = [&](int64_t h, float* K, float* V) {
    for (int64_t p = 0; p < key_panels; ++p) {
      kt.pack64_f32(k + p * kPanel * ld + h * dh, ld, std::min(kPanel, n - p * kPanel), dh,
                    K + p * kPanel * dh);
    }
    for (int64_t p = 0; p < out_panels; ++p) {
      const int64_t e0 = p * kPanel, ne = std::min(kPanel, dh - e0);
      float* panel = V + p * n * kPanel;
      for (int64_t j = 0; j < n; ++j) {
        float* dst = panel + j * kPanel;
        std::memcpy(dst, v + j * ld + h * dh + e0, static_cast<size_t>(ne) * sizeof(float));
        std::fill(dst + ne, dst + kPanel, 0.0f);
      }
    }
  };
  // Work items are (head, part of its query rows). With enough heads to go round the threads a
  // few times, an item is a whole head and its thread packs K and V into its own buffers just
  // before, so they are still in L2 for every block (packing every head up front wrote them all
  // out to L3 and read them back). With fewer heads (or many threads) heads are split, and then
  // every head is packed once, up front, into shared buffers: per-thread packing would repeat
  // it for every part.
  const int64_t blocks_per_head = (n + kRows - 1) / kRows;
  const int64_t parts =
      std::min(blocks_per_head, std::max<int64_t>(1, (4 * pool.size() + n_head - 1) / n_head));
  float* k_all = nullptr;
  float* v_all = nullptr;
  if (parts > 1) {
    static thread_local Buffer kbuf, vbuf;
    k_all = kbuf.get(n_head * k_head);
    v_all = vbuf.get(n_head * v_head);
    pool.parallel_for(n_head, [&](int64_t h0, int64_t h1) {
      for (int64_t h = h0; h < h1; ++h) pack_head(h, k_all + h * k_head, v_all + h * v_head);
    });
  }
  static std::atomic<uint64_t> calls{0};
  const uint64_t call = calls.fetch_add(1, std::memory_order_relaxed) + 1;
  pool.parallel_for(n_head * parts, [&](int64_t b, int64_t e) {
    static thread_local Buffer kbuf, vbuf, sbuf;
    static thread_local uint64_t packed_call = 0;
    static thread_local int64_t packed_head = -1;
    float* s = sbuf.get(kRows * ns + kGroup * kRows * dh);
    float* qp = s + kRows * ns;
    for (int64_t item = b; item < e; ++item) {
      const int64_t h = item / parts, part = item % parts;
      const float* K;
      const float* V;
      if (parts > 1) {
        K = k_all + h * k_head;
        V = v_all + h * v_head;
      } else {
        float* Kt = kbuf.get(k_head);
        float* Vt = vbuf.get(v_head);
        if (packed_call != call || packed_head != h) {
          pack_head(h, Kt, Vt);
          packed_call = call;
          packed_head = h;
        }
        K = Kt;
        V = Vt;
      }
      const int64_t i_begin = blocks_per_head * part / parts * kRows;
      const int64_t i_end = std::min(n, blocks_per_head * (part + 1) / parts * kRows);
      for (int64_t g0 = i_begin; g0 < i_end; g0 += kGroup * kRows) {
        const int64_t g_end = std::min(i_end, g0 + kGroup * kRows);
        pack_queries(q + g0 * ld + h * dh, ld, g_end - g0, dh, qscale, qp);
        for (int64_t i0 = g0; i0 < g_end; i0 += kRows) {
          const int64_t m = std::min(kRows, g_end - i0);
          kBlocks[m](K, V, n, dh, qp + (i0 - g0) * dh, s, ns, out + i0 * d + h * dh, d);
        }
      }
    }
  });
}

}  // namespace omni::vision::detail

OMNI_ISA_END()
