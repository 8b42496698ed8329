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

using TileFn = void (*)(const float*, int, const float* const*, int, float[kR][kC],
                       const TileOut&);

struct Tile {
  TileFn fn;
  int cols;
  bool writes_whole;  // stores whole tiles itself (TileOut::whole)
  TileFn fn16;        // for a last block of <= 16 columns (or null)
};

Tile pick_tile() {
  switch (cpu_level()) {
    case CpuLevel::kAvx512: return {tile_avx512, 32, true, tile16_avx512};
    case CpuLevel::kAvx2: return {tile_avx2, 16, true, nullptr};
    default: return {tile_scalar, 16, false, nullptr};
  }
}

}  // namespace

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
      const bool narrow = tile.fn16 && cols <= 16;
      const TileOut out{y + int64_t(p) * kR * ldy + col, ldy, bias ? bias + p * kR : nullptr,
                        accumulate,
                        tile.writes_whole && rows == kR && cols == (narrow ? 16 : tc)};
      (narrow ? tile.fn16 : tile.fn)(a.data.data() + size_t(p) * a.k * kR, a.k, b_rows, col,
                                     acc, out);
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
