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
  std::vector<float> f32_y[3];  // per level count: F16 weights of the same values give these bits
  for (DType t : {DType::F32, DType::F16}) {
    const PackedWeights p(t, t == DType::F16 ? static_cast<const void*>(wh.data()) : w.data(), s.rows,
                          s.cols, &pool);
    for (int levels = 0; levels <= 2; ++levels) {
      StrassenConfig cfg;
      cfg.max_levels = levels;
      cfg.min_m = 1;
      cfg.min_k = 1;
      cfg.min_k2 = 1;
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
      // The F16 weight panels (summed in the tile loop, up to 4 terms at two levels) hold the
      // same floats as the F32 ones.
      if (t == DType::F32) {
        f32_y[levels] = y;
      } else {
        EXPECT_EQ(y, f32_y[levels]) << "levels " << levels;
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
    cfg.min_k2 = 1;
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

// x's five Strassen sums as a scalar loop forms them: 0 + first +- second (a missing row of the
// padded second half adds nothing).
std::vector<float> scalar_sums(const std::vector<float>& x, int64_t m, int64_t k) {
  const StrassenSums l = StrassenSums::layout(m, k);
  std::vector<float> out(static_cast<size_t>(StrassenSums::kCount * l.rows * l.cols));
  auto at = [&](int64_t row, int64_t col) {
    return row < m ? x[static_cast<size_t>(row * k + col)] : 0.0f;
  };
  for (int64_t r = 0; r < l.rows; ++r) {
    for (int64_t c = 0; c < l.cols; ++c) {
      const float a11 = at(r, c), a12 = at(r, l.cols + c);
      const float a21 = at(r + l.rows, c), a22 = at(r + l.rows, l.cols + c);
      const float v[StrassenSums::kCount] = {0.0f + a11 + a22, 0.0f + a21 + a22, 0.0f + a11 + a12,
                                             0.0f + a21 - a11, 0.0f + a12 - a22};
      for (int b = 0; b < StrassenSums::kCount; ++b) {
        out[static_cast<size_t>((b * l.rows + r) * l.cols + c)] = v[b];
      }
    }
  }
  return out;
}

std::vector<float> unpadded(const StrassenSums& s) {
  std::vector<float> out;
  for (int b = 0; b < StrassenSums::kCount; ++b) {
    for (int64_t r = 0; r < s.rows; ++r) {
      const float* p = s.block(b) + r * s.stride;
      out.insert(out.end(), p, p + s.cols);
    }
  }
  return out;
}

// Two one-level products in a row as in the encoder (fc1 with GELU, then fc2): the first
// writes the second's activation sums (optionally skipping its off-diagonal quadrants), and
// sums written by put() or by the first product give the second the same bits as gemm()'s own
// pass, at 1 and 2 threads, with cached and streamed (>= 4 MiB) first outputs.
TEST(PackedGemm, ProducerSumsGiveTheSameBits) {
  if (kernels::active().gemm6x64_f32 == nullptr) GTEST_SKIP() << "no packed GEMM block at this level";
  struct Chain {
    int64_t m, k1, n1, n2;
  };
  for (const Chain c : {Chain{301, 256, 512, 256}, Chain{257, 64, 4096, 128}}) {
    std::mt19937 rng(17);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(c.m * c.k1)), b1(static_cast<size_t>(c.n1));
    std::vector<uint16_t> w1(static_cast<size_t>(c.n1 * c.k1)), w2(static_cast<size_t>(c.n2 * c.n1));
    for (float& v : x) v = nd(rng);
    for (float& v : b1) v = nd(rng);
    for (uint16_t& v : w1) v = fp32_to_fp16(0.1f * nd(rng));
    for (uint16_t& v : w2) v = fp32_to_fp16(0.05f * nd(rng));
    ThreadPool two(2), one(1);
    const PackedWeights p1(DType::F16, w1.data(), c.n1, c.k1, &two);
    const PackedWeights p2(DType::F16, w2.data(), c.n2, c.n1, &two);
    StrassenConfig cfg;
    cfg.min_m = 1;
    cfg.min_k = 1;
    cfg.max_levels = 1;  // producer sums are those of a one-level product
    ASSERT_EQ(strassen_levels(p1, c.m, cfg), 1);
    ASSERT_EQ(strassen_levels(p2, c.m, cfg), 1);
    const size_t ny1 = static_cast<size_t>(c.m * c.n1), ny2 = static_cast<size_t>(c.m * c.n2);
    std::vector<float> y1(ny1), y2(ny2);
    gemm(p1, x.data(), c.m, b1.data(), false, y1.data(), cfg, two, Activation::kGelu);
    gemm(p2, y1.data(), c.m, nullptr, false, y2.data(), cfg, two);

    // put() over x's rows, then x's off-diagonal quadrants poisoned: never read.
    StrassenSums xs = StrassenSums::layout(c.m, c.k1);
    std::vector<float> xs_buf(static_cast<size_t>(xs.floats()) + 16);
    xs.data = xs_buf.data();
    const int64_t h = xs.cols;
    for (int64_t r = 0; r < xs.rows; ++r) {
      const float* top = x.data() + r * c.k1;
      const float* bot = r + xs.rows < c.m ? x.data() + (r + xs.rows) * c.k1 : nullptr;
      xs.put(r, 0, h, top, top + h, bot, bot ? bot + h : nullptr);
    }
    EXPECT_EQ(unpadded(xs), scalar_sums(x, c.m, c.k1));
    std::vector<float> xp = x;
    for (int64_t i = 0; i < c.m; ++i) {
      const int64_t c0 = i < xs.rows ? h : 0;  // A12 on top, A21 below
      std::fill_n(xp.begin() + i * c.k1 + c0, h, std::nanf(""));
    }

    for (ThreadPool* pool : {&two, &one}) {
      for (bool diag : {false, true}) {
        StrassenSums ys = StrassenSums::layout(c.m, c.n1);
        std::vector<float> ys_buf(static_cast<size_t>(ys.floats()));
        ys.data = ys_buf.data();
        std::vector<float> g1(ny1, -7.0f), g2(ny2);
        GemmSums in1;
        in1.x = &xs;
        in1.y = &ys;
        in1.y_diagonal_only = diag;
        gemm(p1, xp.data(), c.m, b1.data(), false, g1.data(), cfg, *pool, Activation::kGelu, in1);
        EXPECT_EQ(unpadded(ys), scalar_sums(y1, c.m, c.n1)) << "diag " << diag;
        const int64_t hb = ys.rows, hn = ys.cols;
        for (int64_t i = 0; i < c.m; ++i) {
          for (int64_t j = 0; j < c.n1; ++j) {
            const size_t at = static_cast<size_t>(i * c.n1 + j);
            const bool off = (i < hb) != (j < hn);
            if (diag && off) {
              ASSERT_EQ(g1[at], -7.0f) << "off-diagonal output written at " << i << "," << j;
            } else {
              ASSERT_EQ(g1[at], y1[at]) << i << "," << j;
            }
          }
        }
        GemmSums in2;
        in2.x = &ys;
        gemm(p2, g1.data(), c.m, nullptr, false, g2.data(), cfg, *pool, Activation::kNone, in2);
        EXPECT_EQ(g2, y2) << "m " << c.m << " diag " << diag << " threads " << pool->size();
      }
    }
    // Sums need a one-level product of their shape; skipping quadrants needs a fresh output.
    StrassenConfig plain;
    plain.max_levels = 0;
    GemmSums bad;
    bad.x = &xs;
    EXPECT_THROW(gemm(p1, x.data(), c.m, nullptr, false, y1.data(), plain, two, Activation::kNone,
                      bad),
                 omni::Error);
    StrassenSums ys = StrassenSums::layout(c.m, c.n1);
    std::vector<float> ys_buf(static_cast<size_t>(ys.floats()));
    ys.data = ys_buf.data();
    bad = {};
    bad.y = &ys;
    bad.y_diagonal_only = true;
    EXPECT_THROW(gemm(p1, x.data(), c.m, nullptr, true, y1.data(), cfg, two, Activation::kNone,
                      bad),
                 omni::Error);
  }
}

TEST(PackedGemm, RefusesQuantizedWeights) {
  std::vector<uint8_t> w(34 * 4);
  EXPECT_THROW(PackedWeights(DType::Q8_0, w.data(), 4, 32), omni::Error);
}

}  // namespace
}  // namespace omni::vision
