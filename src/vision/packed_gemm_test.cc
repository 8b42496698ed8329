#include "vision/packed_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/thread_pool.h"
#include "vision/gelu_table.h"

namespace omni::vision {
namespace {

struct Shape {
  int64_t m, cols, rows;
};

// y = base + x W^T against a double-precision reference, for F32 and F16 weights, plain and
// with one and two Strassen levels (odd m exercises the zero-padded half).
class PackedGemm : public ::testing::TestWithParam<Shape> {};

TEST_P(PackedGemm, MatchesDoubleReference) {
  if (kernels::active().gemm6x64_f32 == nullptr) GTEST_SKIP() << "no packed GEMM block at this level";
  const Shape s = GetParam();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(s.m * s.cols)), w(static_cast<size_t>(s.rows * s.cols));
  std::vector<float> bias(static_cast<size_t>(s.rows)), base(static_cast<size_t>(s.m * s.rows));
  for (float& v : x) v = nd(rng);
  for (float& v : w) v = 0.02f * nd(rng);
  for (float& v : bias) v = nd(rng);
  for (float& v : base) v = nd(rng);
  std::vector<uint16_t> wh(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    wh[i] = fp32_to_fp16(w[i]);
    w[i] = fp16_to_fp32(wh[i]);  // both weight types hold the same values
  }
  std::vector<double> ref(base.size());
  double scale = 0;
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t r = 0; r < s.rows; ++r) {
      double acc = 0;
      for (int64_t k = 0; k < s.cols; ++k) acc += double(x[i * s.cols + k]) * w[r * s.cols + k];
      ref[i * s.rows + r] = acc;
      scale = std::max(scale, std::fabs(acc));
    }
  }
  ThreadPool pool(2);
  for (DType t : {DType::F32, DType::F16}) {
    const PackedWeights p(t, t == DType::F16 ? static_cast<const void*>(wh.data()) : w.data(), s.rows,
                          s.cols, &pool);
    for (int levels = 0; levels <= 2; ++levels) {
      StrassenConfig cfg;
      cfg.max_levels = levels;
      cfg.min_m = 1;
      cfg.min_k = 1;
      std::vector<float> y(base.size()), y_acc = base;
      gemm(p, x.data(), s.m, nullptr, false, y.data(), cfg, pool);
      gemm(p, x.data(), s.m, bias.data(), true, y_acc.data(), cfg, pool);
      double err = 0, err_acc = 0;
      for (int64_t i = 0; i < s.m; ++i) {
        for (int64_t r = 0; r < s.rows; ++r) {
          const size_t j = static_cast<size_t>(i * s.rows + r);
          err = std::max(err, std::fabs(y[j] - ref[j]));
          err_acc = std::max(err_acc, std::fabs(y_acc[j] - (ref[j] + base[j] + bias[r])));
        }
      }
      const int used = strassen_levels(p, s.m, cfg);
      std::printf("[ measured ] %ldx%ldx%ld %s levels %d: max abs err %.3g (outputs up to %.3g)\n",
                  static_cast<long>(s.m), static_cast<long>(s.cols), static_cast<long>(s.rows),
                  t == DType::F16 ? "F16" : "F32", used, err, scale);
      // F32 accumulation over cols terms: ~1e-6 of the output scale; Strassen adds a few times that.
      EXPECT_LE(err, 2e-5 * scale) << "levels " << used;
      EXPECT_LE(err_acc, 2e-5 * scale + 1e-5) << "levels " << used;
      // Results do not depend on the thread count.
      ThreadPool one(1);
      std::vector<float> y1(base.size());
      gemm(p, x.data(), s.m, nullptr, false, y1.data(), cfg, one);
      EXPECT_EQ(y1, y);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, PackedGemm,
                         ::testing::Values(Shape{37, 20, 70}, Shape{577, 256, 256},
                                           Shape{301, 1024, 512}),
                         [](const auto& p) {
                           char b[64];
                           std::snprintf(b, sizeof b, "m%ld_k%ld_n%ld", static_cast<long>(p.param.m),
                                         static_cast<long>(p.param.cols), static_cast<long>(p.param.rows));
                           return std::string(b);
                         });

// The fused activation is the table function applied to the plain result, bit for bit, with
// and without Strassen, bias and accumulation.
TEST(PackedGemm, FusedActivationMatchesSeparatePass) {
  if (kernels::active().gemm6x64_f32 == nullptr) GTEST_SKIP() << "no packed GEMM block at this level";
  const int64_t m = 301, cols = 256, rows = 320;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * cols)), bias(static_cast<size_t>(rows));
  std::vector<float> base(static_cast<size_t>(m * rows));
  std::vector<uint16_t> wh(static_cast<size_t>(rows * cols));
  for (float& v : x) v = nd(rng);
  for (float& v : bias) v = nd(rng);
  for (float& v : base) v = 4.0f * nd(rng);  // reaches the GELU clamps at +-10
  for (uint16_t& v : wh) v = fp32_to_fp16(0.1f * nd(rng));
  ThreadPool pool(2);
  const PackedWeights p(DType::F16, wh.data(), rows, cols, &pool);
  for (int levels : {0, 1}) {
    StrassenConfig cfg;
    cfg.max_levels = levels;
    for (Activation act : {Activation::kGelu, Activation::kQuickGelu}) {
      for (bool acc : {false, true}) {
        std::vector<float> want = base, got = base;
        gemm(p, x.data(), m, bias.data(), acc, want.data(), cfg, pool);
        if (act == Activation::kGelu) {
          gelu_tanh_f16_table(want.data(), static_cast<int64_t>(want.size()));
        } else {
          quick_gelu_f16_table(want.data(), static_cast<int64_t>(want.size()));
        }
        gemm(p, x.data(), m, bias.data(), acc, got.data(), cfg, pool, act);
        EXPECT_EQ(got, want) << "levels " << levels << " accumulate " << acc;
      }
    }
  }
}

// Outputs of 4 MiB and more without a base are streamed past the caches when y's rows are
// 64-byte aligned, and stored normally otherwise: both give the same bits, with and without
// Strassen and the fused activation, and match the double reference.
TEST(PackedGemm, StreamedLargeOutputsMatchCachedStores) {
  if (kernels::active().gemm6x64_f32 == nullptr) GTEST_SKIP() << "no packed GEMM block at this level";
  const int64_t m = 257, cols = 64, rows = 4096;  // 4.2 MB of output
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * cols)), bias(static_cast<size_t>(rows));
  std::vector<uint16_t> wh(static_cast<size_t>(rows * cols));
  for (float& v : x) v = nd(rng);
  for (float& v : bias) v = nd(rng);
  for (uint16_t& v : wh) v = fp32_to_fp16(0.2f * nd(rng));
  ThreadPool pool(2);
  const PackedWeights p(DType::F16, wh.data(), rows, cols, &pool);
  const size_t n = static_cast<size_t>(m * rows);
  std::vector<float> buf(n + 32);
  const auto mis = reinterpret_cast<uintptr_t>(buf.data()) % 64 / sizeof(float);
  float* aligned = buf.data() + (16 - mis) % 16;
  std::vector<float> unaligned_buf(n + 1);
  float* unaligned = reinterpret_cast<uintptr_t>(unaligned_buf.data()) % 64 == 0
                         ? unaligned_buf.data() + 1
                         : unaligned_buf.data();
  for (int levels : {0, 1}) {
    StrassenConfig cfg;
    cfg.max_levels = levels;
    cfg.min_m = 1;
    cfg.min_k = 1;
    for (Activation act : {Activation::kNone, Activation::kGelu}) {
      gemm(p, x.data(), m, bias.data(), false, aligned, cfg, pool, act);
      gemm(p, x.data(), m, bias.data(), false, unaligned, cfg, pool, act);
      EXPECT_EQ(std::vector<float>(aligned, aligned + n), std::vector<float>(unaligned, unaligned + n))
          << "levels " << levels;
      if (act != Activation::kNone) continue;
      double err = 0;
      for (int64_t i = 0; i < m; i += 16) {
        for (int64_t r = 0; r < rows; ++r) {
          double acc = bias[static_cast<size_t>(r)];
          for (int64_t k = 0; k < cols; ++k) {
            acc += double(x[static_cast<size_t>(i * cols + k)]) *
                   fp16_to_fp32(wh[static_cast<size_t>(r * cols + k)]);
          }
          err = std::max(err, std::fabs(aligned[i * rows + r] - acc));
        }
      }
      EXPECT_LE(err, 2e-5) << "levels " << levels;
    }
  }
}

TEST(PackedGemm, RefusesQuantizedWeights) {
  std::vector<uint8_t> w(34 * 4);
  EXPECT_THROW(PackedWeights(DType::Q8_0, w.data(), 4, 32), omni::Error);
}

}  // namespace
}  // namespace omni::vision
