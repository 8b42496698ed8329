#include "tts/conv_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/cpu.h"
#include "core/thread_pool.h"

namespace omni::tts {
namespace {

constexpr int kR = PackedWeights::kRows;
constexpr int kC = 32;  // max columns per tile (AVX-512: 32, else 16)

// Scalar tile with the same accumulation order as the SIMD one (per element: r ascending).
// Where a tile's results go. A whole tile (kR rows, all columns) is written by the SIMD kernels
// themselves (bias and residual add included); a partial one only fills acc.
struct TileOut {
  float* y;  // at (row 0 of the panel, col)
  int64_t ldy;
  const float* bias;  // at row 0 of the panel, or null
  bool add;
  bool whole;
};

void tile_scalar(const float* ap, int k, const float* const* b, int col, float acc[kR][kC],
                 const TileOut&) {
  for (int i = 0; i < kR; ++i)
    for (int j = 0; j < 16; ++j) acc[i][j] = 0.f;
  for (int r = 0; r < k; ++r) {
    const float* br = b[r] + col;
    const float* ar = ap + size_t(r) * kR;
    for (int i = 0; i < kR; ++i)
      for (int j = 0; j < 16; ++j) acc[i][j] = std::fma(ar[i], br[j], acc[i][j]);
  }
}

// Per-function target attributes (GCC and clang) keep the rest of the file baseline x86-64.
// The accumulators live in arrays indexed by compile-time constants only (fully unrolled), so
// they stay in registers. AVX2: 8 rows x 16 columns would need 19 ymm registers (16 exist),
// so the tile runs as two halves of 4 rows over the same B columns.
template <int R0>
__attribute__((target("avx2,fma"), always_inline)) inline void half_avx2(
    const float* ap, int k, const float* const* b, int col, float acc[kR][kC],
    const TileOut& o) {
  __m256 c[4][2];
  for (int i = 0; i < 4; ++i) c[i][0] = c[i][1] = _mm256_setzero_ps();
  for (int r = 0; r < k; ++r) {
    const float* br = b[r] + col;
    const __m256 b0 = _mm256_loadu_ps(br);
    const __m256 b1 = _mm256_loadu_ps(br + 8);
    const float* ar = ap + size_t(r) * kR + R0;
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      const __m256 a = _mm256_broadcast_ss(ar + i);
      c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    if (o.whole) {
      float* yr = o.y + (R0 + i) * o.ldy;
      const __m256 bv = _mm256_set1_ps(o.bias ? o.bias[R0 + i] : 0.f);
      __m256 v0 = _mm256_add_ps(c[i][0], bv), v1 = _mm256_add_ps(c[i][1], bv);
      if (o.add) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(yr));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(yr + 8));
      }
      _mm256_storeu_ps(yr, v0);
      _mm256_storeu_ps(yr + 8, v1);
    } else {
      _mm256_storeu_ps(acc[R0 + i], c[i][0]);
      _mm256_storeu_ps(acc[R0 + i] + 8, c[i][1]);
    }
  }
}

__attribute__((target("avx2,fma"))) void tile_avx2(const float* ap, int k, const float* const* b,
                                                    int col, float acc[kR][kC], const TileOut& o) {
  static_assert(kR == 8);
  half_avx2<0>(ap, k, b, col, acc, o);
  half_avx2<4>(ap, k, b, col, acc, o);
}

__attribute__((target("avx512f"))) void tile_avx512(const float* ap, int k, const float* const* b,
                                                    int col, float acc[kR][kC], const TileOut& o) {
  __m512 c[kR][2];
#pragma GCC unroll 8
  for (int i = 0; i < kR; ++i) c[i][0] = c[i][1] = _mm512_setzero_ps();
  for (int r = 0; r < k; ++r) {
    const float* br = b[r] + col;
    const __m512 b0 = _mm512_loadu_ps(br);
    const __m512 b1 = _mm512_loadu_ps(br + 16);
    const float* ar = ap + size_t(r) * kR;
#pragma GCC unroll 8
    for (int i = 0; i < kR; ++i) {
      const __m512 a = _mm512_set1_ps(ar[i]);
      c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kR; ++i) {
    if (o.whole) {
      float* yr = o.y + i * o.ldy;
      const __m512 bv = _mm512_set1_ps(o.bias ? o.bias[i] : 0.f);
      __m512 v0 = _mm512_add_ps(c[i][0], bv), v1 = _mm512_add_ps(c[i][1], bv);
      if (o.add) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(yr));
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(yr + 16));
      }
      _mm512_storeu_ps(yr, v0);
      _mm512_storeu_ps(yr + 16, v1);
    } else {
      _mm512_storeu_ps(acc[i], c[i][0]);
      _mm512_storeu_ps(acc[i] + 16, c[i][1]);
    }
  }
}

// The same tile 16 columns wide, for a last column block of at most 16 (same summation order).
__attribute__((target("avx512f"))) void tile16_avx512(const float* ap, int k,
                                                      const float* const* b, int col,
                                                      float acc[kR][kC], const TileOut& o) {
  __m512 c[kR];
#pragma GCC unroll 8
  for (int i = 0; i < kR; ++i) c[i] = _mm512_setzero_ps();
  for (int r = 0; r < k; ++r) {
    const __m512 b0 = _mm512_loadu_ps(b[r] + col);
    const float* ar = ap + size_t(r) * kR;
#pragma GCC unroll 8
    for (int i = 0; i < kR; ++i) c[i] = _mm512_fmadd_ps(_mm512_set1_ps(ar[i]), b0, c[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < kR; ++i) {
    if (o.whole) {
      float* yr = o.y + i * o.ldy;
      __m512 v = _mm512_add_ps(c[i], _mm512_set1_ps(o.bias ? o.bias[i] : 0.f));
      if (o.add) v = _mm512_add_ps(v, _mm512_loadu_ps(yr));
      _mm512_storeu_ps(yr, v);
    } else {
      _mm512_storeu_ps(acc[i], c[i]);
    }
  }
}

// A single-row matrix (a convolution to one channel, e.g. HiFi-GAN's conv_post): 32 columns
// of row 0 only, with two accumulator chains per column vector (even and odd r, added at the
// end) to cover the FMA latency. Writes y (whole) or acc[0].
__attribute__((target("avx512f"))) void tile1_avx512(const float* ap, int k,
                                                     const float* const* b, int col,
                                                     float acc[kR][kC], const TileOut& o) {
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, e0 = c0, e1 = c0;
  int r = 0;
  for (; r + 1 < k; r += 2) {
    const float* b0 = b[r] + col;
    const float* b1 = b[r + 1] + col;
    const __m512 a0 = _mm512_set1_ps(ap[size_t(r) * kR]);
    const __m512 a1 = _mm512_set1_ps(ap[size_t(r + 1) * kR]);
    c0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b0), c0);
    c1 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b0 + 16), c1);
    e0 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b1), e0);
    e1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b1 + 16), e1);
  }
  if (r < k) {
    const __m512 a0 = _mm512_set1_ps(ap[size_t(r) * kR]);
    c0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b[r] + col), c0);
    c1 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b[r] + col + 16), c1);
  }
  c0 = _mm512_add_ps(c0, e0);
  c1 = _mm512_add_ps(c1, e1);
  if (o.whole) {
    const __m512 bv = _mm512_set1_ps(o.bias ? o.bias[0] : 0.f);
    __m512 v0 = _mm512_add_ps(c0, bv), v1 = _mm512_add_ps(c1, bv);
    if (o.add) {
      v0 = _mm512_add_ps(v0, _mm512_loadu_ps(o.y));
      v1 = _mm512_add_ps(v1, _mm512_loadu_ps(o.y + 16));
    }
    _mm512_storeu_ps(o.y, v0);
    _mm512_storeu_ps(o.y + 16, v1);
  } else {
    _mm512_storeu_ps(acc[0], c0);
    _mm512_storeu_ps(acc[0] + 16, c1);
  }
}

// A last column block of at most 8 columns (the Winograd layers before the decoder often end on
// a tile or two: 261 frames are 65 four-sample tiles and 1): the 16-wide tile would do 16
// columns of work for them. Here the 8 rows of a panel are one ymm per column, kP panels at
// once (4 for up to 4 columns, else 2) so enough independent chains cover the FMA latency. Each element is still one fused
// multiply-add chain over ascending r from 0, plus bias, plus y: the same bits as the tiles.
template <int C>
__attribute__((target("avx2,fma,avx512f,avx512vl"))) void narrow_avx512(
    const PackedWeights& a, int p0, int np, const float* const* b, int col, float* y,
    int64_t ldy, const float* bias, bool add) {
  constexpr int kP = C <= 4 ? 4 : 2;
  const float* ap[kP];
  for (int q = 0; q < kP; ++q) ap[q] = a.data.data() + size_t(p0 + std::min(q, np - 1)) * a.k * kR;
  __m256 c[kP][C];
#pragma GCC unroll 4
  for (int q = 0; q < kP; ++q)
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) c[q][j] = _mm256_setzero_ps();
  for (int r = 0; r < a.k; ++r) {
    const float* br = b[r] + col;
    __m256 bv[C];
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) bv[j] = _mm256_broadcast_ss(br + j);
#pragma GCC unroll 4
    for (int q = 0; q < kP; ++q) {
      const __m256 av = _mm256_loadu_ps(ap[q] + size_t(r) * kR);
#pragma GCC unroll 8
      for (int j = 0; j < C; ++j) c[q][j] = _mm256_fmadd_ps(av, bv[j], c[q][j]);
    }
  }
  // Out of registers with compile-time indices only (a runtime index would keep the
  // accumulators in memory through the loop above).
  alignas(32) float acc[kP][C][kR];
#pragma GCC unroll 4
  for (int q = 0; q < kP; ++q)
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) _mm256_store_ps(acc[q][j], c[q][j]);
  for (int q = 0; q < np; ++q) {
    const int row0 = (p0 + q) * kR;
    const int rows = std::min(kR, a.m - row0);
    for (int j = 0; j < C; ++j) {
      for (int i = 0; i < rows; ++i) {
        float* yr = y + int64_t(row0 + i) * ldy + col + j;
        const float v = acc[q][j][i] + (bias ? bias[row0 + i] : 0.f);
        *yr = add ? v + *yr : v;
      }
    }
  }
}

using NarrowFn = void (*)(const PackedWeights&, int, int, const float* const*, int, float*,
                          int64_t, const float*, bool);
constexpr NarrowFn kNarrow[8] = {narrow_avx512<1>, narrow_avx512<2>, narrow_avx512<3>,
                                 narrow_avx512<4>, narrow_avx512<5>, narrow_avx512<6>,
                                 narrow_avx512<7>, narrow_avx512<8>};
// Panels per narrow call for a block of c columns.
constexpr int narrow_panels(int c) { return c <= 4 ? 4 : 2; }

using TileFn = void (*)(const float*, int, const float* const*, int, float[kR][kC],
                       const TileOut&);

struct Tile {
  TileFn fn;
  int cols;
  bool writes_whole;  // stores whole tiles itself (TileOut::whole)
  TileFn fn16;        // for a last block of <= 16 columns (or null)
  TileFn fn1;         // for a one-row matrix, `cols` wide (or null)
};

Tile pick_tile() {
  switch (cpu_level()) {
    case CpuLevel::kAvx512: return {tile_avx512, 32, true, tile16_avx512, tile1_avx512};
    case CpuLevel::kAvx2: return {tile_avx2, 16, true, nullptr, nullptr};
    default: return {tile_scalar, 16, false, nullptr, nullptr};
  }
}

}  // namespace

void act_copy(const float* src, int n, float slope, float* dst) {
  if (slope == 1.f) {
    std::copy(src, src + n, dst);
    return;
  }
  const __m128 sl = _mm_set1_ps(slope), zero = _mm_setzero_ps();
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m128 v = _mm_loadu_ps(src + i);
    const __m128 neg = _mm_cmplt_ps(v, zero);
    _mm_storeu_ps(dst + i, _mm_or_ps(_mm_and_ps(neg, _mm_mul_ps(v, sl)), _mm_andnot_ps(neg, v)));
  }
  for (; i < n; ++i) dst[i] = src[i] < 0.f ? src[i] * slope : src[i];
}

void PackedWeights::pack(const float* a, int rows, int cols, int lda) {
  m = rows;
  k = cols;
  const int panels = (rows + kR - 1) / kR;
  data.assign(size_t(panels) * cols * kR, 0.f);
  for (int p = 0; p < panels; ++p) {
    float* dst = data.data() + size_t(p) * cols * kR;
    for (int r = 0; r < cols; ++r) {
      for (int i = 0; i < kR; ++i) {
        const int row = p * kR + i;
        dst[size_t(r) * kR + i] = row < rows ? a[size_t(row) * lda + r] : 0.f;
      }
    }
  }
}

void gemm_rows(const PackedWeights& a, const float* const* b_rows, int n, const float* bias,
               float* y, int64_t ldy, ThreadPool* pool, bool accumulate) {
  static const Tile tile = pick_tile();
  const int tc = tile.cols;
  const int panels = (a.m + kR - 1) / kR;
  const int col_tiles = (n + tc - 1) / tc;
  const int64_t jobs = int64_t(panels) * col_tiles;
  auto run = [&](int64_t begin, int64_t end) {
    alignas(64) float acc[kR][kC];
    for (int64_t job = begin; job < end; ++job) {
      // Column-major over jobs so neighbouring jobs share the same B columns in cache.
      const int p = int(job % panels);
      const int col = int(job / panels) * tc;
      const int rows = std::min(kR, a.m - p * kR);
      const int cols = std::min(tc, n - col);
      const bool one = tile.fn1 && a.m == 1;
      if (!one && tile.fn16 && cols <= 8) {
        // Several panels of this column block at once (consecutive jobs).
        const int np = int(std::min<int64_t>({narrow_panels(cols), panels - p, end - job}));
        kNarrow[cols - 1](a, p, np, b_rows, col, y, ldy, bias, accumulate);
        job += np - 1;
        continue;
      }
      const bool narrow = !one && tile.fn16 && cols <= 16;
      const bool whole = tile.writes_whole && (one || rows == kR) && cols == (narrow ? 16 : tc);
      const TileOut out{y + int64_t(p) * kR * ldy + col, ldy, bias ? bias + p * kR : nullptr,
                        accumulate, whole};
      const TileFn fn = one ? tile.fn1 : narrow ? tile.fn16 : tile.fn;
      fn(a.data.data() + size_t(p) * a.k * kR, a.k, b_rows, col, acc, out);
      if (out.whole) continue;
      for (int i = 0; i < rows; ++i) {
        const int row = p * kR + i;
        const float bv = bias ? bias[row] : 0.f;
        float* yr = y + row * ldy + col;
        if (accumulate) {
          for (int j = 0; j < cols; ++j) yr[j] = (acc[i][j] + bv) + yr[j];
        } else {
          for (int j = 0; j < cols; ++j) yr[j] = acc[i][j] + bv;
        }
      }
    }
  };
  const int64_t flops = int64_t(a.m) * a.k * n;
  // Waking the workers costs microseconds on an idle machine (more when cores are shared):
  // only layers of a million multiply-adds or more are split.
  if (pool && pool->size() > 1 && flops >= (1 << 20)) {
    pool->parallel_for(jobs, run, std::max<int64_t>(1, jobs / (pool->size() * 8)));
  } else {
    run(0, jobs);
  }
}

}  // namespace omni::tts
