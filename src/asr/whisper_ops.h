// Small building blocks shared by the Whisper encoder and decoder (internal header).
#pragma once

#include <cstdint>

#include "asr/whisper_model.h"
#include "core/kernels.h"
#include "core/thread_pool.h"

namespace omni::asr::detail {

inline constexpr float kLayerNormEps = 1e-5f;

// A pool without workers: small products (one token through a small model) run on the caller,
// since handing work to a worker that another process keeps off the CPU costs milliseconds.
inline ThreadPool& serial_pool() {
  static ThreadPool pool(1);
  return pool;
}
inline constexpr int64_t kParallelMacs = int64_t{1} << 20;
// Products this small stay on the caller. A single-token decoder projection (384x384 in
// tiny.en, 512x512 in base.en) streams 0.3-0.5 MB of weights, some 10-20 us of one core's
// bandwidth against ~1-2 us to hand half of it to a spinning worker, so these use the pool too
// (whisper.cpp runs every decoder op on all its threads). Under heavy load the two are a wash
// (matvec_f16/dispatch/512x512 in bench/matvec_f16_bench.cc).
inline constexpr int64_t kParallelLinearMacs = int64_t{1} << 16;

// y[m][rows] = x[m][cols] · Wᵀ + b.
inline void linear(const WhisperLinear& l, const float* x, int64_t m, float* y, ThreadPool& pool) {
  ThreadPool& p = m * l.w.rows * l.w.cols < kParallelLinearMacs ? serial_pool() : pool;
  kernels::matmul(l.w.type, l.w.data, l.w.rows, l.w.cols, x, m, y, &p);
  if (!l.b.empty()) kernels::add_rows(y, l.b.data(), m, l.w.rows, y);
}

// Row-wise layer norm of x[m][n] into y, spread over the pool.
inline void layer_norm(const WhisperNorm& nrm, const float* x, int64_t m, int64_t n, float* y,
                       ThreadPool& pool) {
  pool.parallel_for(
      m,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          kernels::layer_norm(x + i * n, nrm.w.data(), nrm.b.data(), kLayerNormEps, n, y + i * n);
        }
      },
      16);
}

inline void gelu(float* x, int64_t n, ThreadPool& pool) {
  pool.parallel_for(
      n, [&](int64_t b, int64_t e) { kernels::gelu_tanh(x + b, e - b, x + b); }, 4096);
}

}  // namespace omni::asr::detail
