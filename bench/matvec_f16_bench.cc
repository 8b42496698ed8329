// F16 matrix-vector products (single-token decode, memory bound) at the LLM and Whisper decoder
// shapes, and the experiments behind the choice of kernel:
//   matvec_f16/dispatch/<rows>x<cols>/threads:N   kernels::matmul as generation calls it
//   matvec_f16/var/<name>/<rows>x<cols>/threads:1 kernel variants written here (row blocking,
//                                                  software prefetch distance and hint; sS_* = S
//                                                  far-apart streams, sS_pgNk = one L1 touch N KiB
//                                                  ahead per 4 KiB page)
// Weights cycle through copies totalling >= 256 MiB, so every call reads DRAM, as a token does.
// bytes_per_second = weight bytes / wall time; compare with BM_MemoryBandwidth.
#include <benchmark/benchmark.h>

// GCC 12's AVX-512 intrinsic headers start from _mm512_undefined_*() and trip these warnings.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/cpu.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/thread_pool.h"
#include "bench_pool.h"

namespace {

using omni::DType;
using omni::ThreadPool;

using omni::bench::pool;

struct Copies {
  int64_t rows = 0, cols = 0;
  std::vector<std::vector<uint16_t>> w;
};

// >= 256 MiB of copies of one F16 matrix; only the latest shape is kept.
Copies& copies(int64_t rows, int64_t cols) {
  static std::tuple<int64_t, int64_t> key{0, 0};
  static Copies c;
  if (key == std::make_tuple(rows, cols)) return c;
  c.w.clear();
  c.rows = rows;
  c.cols = cols;
  const uint64_t bytes = static_cast<uint64_t>(rows * cols) * 2;
  const uint64_t n = std::max<uint64_t>(1, ((uint64_t{256} << 20) + bytes - 1) / bytes);
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (uint64_t i = 0; i < n; ++i) {
    c.w.emplace_back(static_cast<size_t>(rows * cols));
    for (auto& h : c.w.back()) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      h = omni::fp32_to_fp16(static_cast<float>(static_cast<int64_t>(s % 2001) - 1000) * 1e-4f);
    }
  }
  key = std::make_tuple(rows, cols);
  return c;
}

void finish(benchmark::State& state, const Copies& c) {
  const double bytes = static_cast<double>(c.rows * c.cols * 2) * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void run_dispatch(benchmark::State& state, int64_t rows, int64_t cols, int threads) {
  Copies& c = copies(rows, cols);
  std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.1f - 0.8f;
  ThreadPool& tp = pool(threads);
  size_t k = 0;
  for (auto _ : state) {
    omni::kernels::matvec(DType::F16, c.w[k].data(), rows, cols, x.data(), y.data(), &tp);
    k = (k + 1) % c.w.size();
    benchmark::ClobberMemory();
  }
  finish(state, c);
}

// --- experimental kernels (AVX-512 F + F16C) ---

__attribute__((target("avx512f,f16c,fma"))) inline __m512 ldh(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// R rows per pass, 4 accumulators per row over 64 columns; cols must be a multiple of 64.
// Prefetch `pf` bytes ahead of each row's read position with hint H (0 = none).
template <int R, int H>
__attribute__((target("avx512f,f16c,fma"))) void mv_rows(const uint16_t* w, int64_t n, int64_t r0,
                                                          int64_t r1, const float* x, float* y,
                                                          int64_t pf) {
  const int64_t pfe = pf / 2;
  int64_t r = r0;
  for (; r + R <= r1; r += R) {
    __m512 s[R][4];
    for (auto& row : s) {
      for (auto& v : row) v = _mm512_setzero_ps();
    }
    const uint16_t* wr = w + r * n;
    for (int64_t i = 0; i < n; i += 64) {
      if constexpr (H != 0) {
        for (int rr = 0; rr < R; ++rr) {
          const char* p = reinterpret_cast<const char*>(wr + rr * n + i + pfe);
          if constexpr (H == 1) {
            _mm_prefetch(p, _MM_HINT_T0);
            _mm_prefetch(p + 64, _MM_HINT_T0);
          } else if constexpr (H == 2) {
            _mm_prefetch(p, _MM_HINT_T1);
            _mm_prefetch(p + 64, _MM_HINT_T1);
          } else {
            _mm_prefetch(p, _MM_HINT_NTA);
            _mm_prefetch(p + 64, _MM_HINT_NTA);
          }
        }
      }
      for (int j = 0; j < 4; ++j) {
        const __m512 xv = _mm512_loadu_ps(x + i + 16 * j);
        for (int rr = 0; rr < R; ++rr) {
          s[rr][j] = _mm512_fmadd_ps(ldh(wr + rr * n + i + 16 * j), xv, s[rr][j]);
        }
      }
    }
    for (int rr = 0; rr < R; ++rr) {
      y[r + rr] = _mm512_reduce_add_ps(
          _mm512_add_ps(_mm512_add_ps(s[rr][0], s[rr][1]), _mm512_add_ps(s[rr][2], s[rr][3])));
    }
  }
}

// S far-apart streams: the row range is cut into S contiguous segments and row k of every
// segment is computed in the same pass. Unlike R adjacent rows (streams 2 KiB apart), every
// stream stays sequential. Prefetch: without kPage, each stream `pf` bytes ahead into L2 on
// every line (0: none); with kPage, one line `pf` bytes ahead into L1 only when a stream enters
// a new 4 KiB page, restarting the hardware streamer that stops at the page boundary (the
// kernel's scheme since session 7).
template <int S, bool kPage = false>
__attribute__((target("avx512f,f16c,fma"))) void mv_split(const uint16_t* w, int64_t n, int64_t r0,
                                                           int64_t r1, const float* x, float* y,
                                                           int64_t pf) {
  const int64_t seg = (r1 - r0) / S;
  for (int64_t k = 0; k < seg; ++k) {
    __m512 sum[S][4];
    for (auto& row : sum) {
      for (auto& v : row) v = _mm512_setzero_ps();
    }
    const uint16_t* wr[S];
    for (int s = 0; s < S; ++s) wr[s] = w + (r0 + s * seg + k) * n;
    for (int64_t i = 0; i < n; i += 64) {
      for (int s = 0; s < S; ++s) {
        const uintptr_t a = reinterpret_cast<uintptr_t>(wr[s] + i);
        const uintptr_t ahead = a + static_cast<uintptr_t>(pf);
        if constexpr (kPage) {
          if ((a & 4095) < 128) _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);
        } else if (pf != 0) {
          _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T1);
          _mm_prefetch(reinterpret_cast<const char*>(ahead + 64), _MM_HINT_T1);
        }
      }
      for (int j = 0; j < 4; ++j) {
        const __m512 xv = _mm512_loadu_ps(x + i + 16 * j);
        for (int s = 0; s < S; ++s) sum[s][j] = _mm512_fmadd_ps(ldh(wr[s] + i + 16 * j), xv, sum[s][j]);
      }
    }
    for (int s = 0; s < S; ++s) {
      y[r0 + s * seg + k] = _mm512_reduce_add_ps(
          _mm512_add_ps(_mm512_add_ps(sum[s][0], sum[s][1]), _mm512_add_ps(sum[s][2], sum[s][3])));
    }
  }
  if (S * seg < r1 - r0) {
    if constexpr (kPage) {
      mv_rows<1, 0>(w, n, r0 + S * seg, r1, x, y, 0);
    } else {
      mv_rows<1, 2>(w, n, r0 + S * seg, r1, x, y, pf);
    }
  }
}

using MvFn = void (*)(const uint16_t*, int64_t, int64_t, int64_t, const float*, float*, int64_t);

void run_variant(benchmark::State& state, MvFn fn, int64_t pf, int64_t rows, int64_t cols,
                 int threads, int64_t grain_rows) {
  Copies& c = copies(rows, cols);
  std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.1f - 0.8f;
  ThreadPool& tp = pool(threads);
  size_t k = 0;
  for (auto _ : state) {
    const uint16_t* w = c.w[k].data();
    const int64_t blocks = (rows + grain_rows - 1) / grain_rows;
    tp.parallel_for(blocks, [&](int64_t b, int64_t e) {
      fn(w, cols, b * grain_rows, std::min(rows, e * grain_rows), x.data(), y.data(), pf);
    });
    k = (k + 1) % c.w.size();
    benchmark::ClobberMemory();
  }
  finish(state, c);
}

const struct Registrar {
  Registrar() {
    const std::pair<int64_t, int64_t> shapes[] = {
        {4864, 896}, {896, 4864}, {151936, 896},     // Qwen2-0.5B FFN up, down, LM head
        {51864, 512}, {2048, 512}, {512, 2048}, {512, 512}};  // Whisper base.en decoder
    for (const auto& [rows, cols] : shapes) {
      const int64_t r = rows, c = cols;  // (clang 14 cannot capture structured bindings)
      const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
      for (int threads : {1, 2}) {
        const std::string n = "matvec_f16/dispatch/" + shape + "/threads:" + std::to_string(threads);
        benchmark::RegisterBenchmark(n.c_str(), [=](benchmark::State& s) { run_dispatch(s, r, c, threads); })
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
      if (!omni::cpu_features().avx512f || !omni::cpu_features().f16c) continue;
      struct V {
        const char* name;
        MvFn fn;
        int64_t pf;
      };
      const V variants[] = {
          {"r1_nopf", mv_rows<1, 0>, 0},       {"r2_nopf", mv_rows<2, 0>, 0},
          {"r4_nopf", mv_rows<4, 0>, 0},       {"r1_t0_512", mv_rows<1, 1>, 512},
          {"r1_t0_2k", mv_rows<1, 1>, 2048},   {"r1_t0_4k", mv_rows<1, 1>, 4096},
          {"r1_t1_2k", mv_rows<1, 2>, 2048},   {"r1_nta_2k", mv_rows<1, 3>, 2048},
          {"r1_t1_8k", mv_rows<1, 2>, 8192},   {"r1_t1_16k", mv_rows<1, 2>, 16384},
          {"r1_t0_8k", mv_rows<1, 1>, 8192},   {"r1_t1_32k", mv_rows<1, 2>, 32768},
          {"r1_t1_64k", mv_rows<1, 2>, 65536},
          {"r4_t0_512", mv_rows<4, 1>, 512},   {"r4_t0_2k", mv_rows<4, 1>, 2048},
          {"s2_t1_32k", mv_split<2>, 32768},  {"s4_t1_32k", mv_split<4>, 32768},
          {"s2_nopf", mv_split<2>, 0},        {"s2_t1_8k", mv_split<2>, 8192},
          {"r1_t1_128k", mv_rows<1, 2>, 131072}, {"s4_nopf", mv_split<4>, 0},
          {"s2_t1_16k", mv_split<2>, 16384}, {"s3_t1_32k", mv_split<3>, 32768},
          {"s3_nopf", mv_split<3>, 0},        {"s6_nopf", mv_split<6>, 0},
          {"s7_nopf", mv_split<7>, 0},        {"s8_nopf", mv_split<8>, 0},
          {"s5_nopf", mv_split<5>, 0},        {"s6_pg8k", mv_split<6, true>, 8192},
          {"s6_pg16k", mv_split<6, true>, 16384}, {"s6_pg32k", mv_split<6, true>, 32768},
          {"s6_pg64k", mv_split<6, true>, 65536},
          {"s4_pg16k", mv_split<4, true>, 16384}, {"s6_pg4k", mv_split<6, true>, 4096},
      };
      for (const V& v : variants) {
        for (int threads : {1, 2}) {
          const std::string n = std::string("matvec_f16/var/") + v.name + "/" + shape +
                                "/threads:" + std::to_string(threads);
          const MvFn fn = v.fn;
          const int64_t pf = v.pf;
          benchmark::RegisterBenchmark(n.c_str(), [=](benchmark::State& s) { run_variant(s, fn, pf, r, c, threads, 8); })
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
} registrar;

}  // namespace
