// Dot products and matrix products at every level this CPU runs, against double-precision
// references built from independently written block decoders.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/kernels.h"
#include "core/kernels_test_util.h"
#include "core/quant.h"
#include "core/thread_pool.h"

namespace omni::kernels {
namespace {

using testing::levels;
using testing::random_floats;

constexpr double kU = 1.0 / (1 << 24);  // unit roundoff of float

const int64_t kSizes[] = {1, 2, 15, 16, 17, 31, 33, 64, 255, 257, 896, 4097};

// Any summation order of n float products obeys |err| <= (n + 2) u sum|a_i b_i| (the classic
// gamma_n bound plus the product roundings), so this tolerance holds for every level's order.
double float_dot_tol(int64_t n, double abs_sum) { return (static_cast<double>(n) + 2) * kU * abs_sum; }

TEST(KernelsDot, F32F16Bf16MatchDoubleReference) {
  std::mt19937 rng(1);
  for (CpuLevel level : levels()) {
    const KernelTable& k = kernel_table(level);
    SCOPED_TRACE(std::string(cpu_level_name(level)));
    for (int64_t n : kSizes) {
      const auto a = random_floats(rng, n), b = random_floats(rng, n);
      std::vector<uint16_t> ah(a.size()), ab(a.size());
      for (size_t i = 0; i < a.size(); ++i) {
        ah[i] = fp32_to_fp16(a[i]);
        ab[i] = fp32_to_bf16(a[i]);
      }
      double r32 = 0, r16 = 0, rb = 0, s32 = 0, s16 = 0, sb = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        r32 += static_cast<double>(a[i]) * b[i];
        s32 += std::fabs(static_cast<double>(a[i]) * b[i]);
        r16 += static_cast<double>(fp16_to_fp32(ah[i])) * b[i];
        s16 += std::fabs(static_cast<double>(fp16_to_fp32(ah[i])) * b[i]);
        rb += static_cast<double>(bf16_to_fp32(ab[i])) * b[i];
        sb += std::fabs(static_cast<double>(bf16_to_fp32(ab[i])) * b[i]);
      }
      EXPECT_NEAR(k.dot_f32(a.data(), b.data(), n), r32, float_dot_tol(n, s32)) << n;
      EXPECT_NEAR(k.dot_f16(ah.data(), b.data(), n), r16, float_dot_tol(n, s16)) << n;
      EXPECT_NEAR(k.dot_bf16(ab.data(), b.data(), n), rb, float_dot_tol(n, sb)) << n;
    }
  }
}

struct Q8Buf {
  std::vector<int8_t> qs;
  std::vector<float> d, sd;
  std::vector<int32_t> sum;
};

Q8Buf quantize_q8(const KernelTable& k, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  const size_t nb = x.size() / 32;
  Q8Buf q{std::vector<int8_t>(x.size()), std::vector<float>(nb), std::vector<float>(nb),
          std::vector<int32_t>(nb)};
  k.quantize_q8(x.data(), n, q.qs.data(), q.d.data(), q.sd.data(), q.sum.data());
  return q;
}

TEST(KernelsQuantize, Q8MatchesDefinitionAndIsIdenticalAtEveryLevel) {
  std::mt19937 rng(2);
  for (int64_t n : {32, 64, 896, 4864}) {
    auto x = random_floats(rng, n, -3, 3);
    for (int i = 0; i < 32; ++i) x[static_cast<size_t>(i)] = 0;  // an all-zero block
    const Q8Buf ref = quantize_q8(kernel_table(CpuLevel::kScalar), x);
    for (int64_t b = 0; b < n / 32; ++b) {
      float amax = 0;
      int sum = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[static_cast<size_t>(b * 32 + i)]));
      EXPECT_EQ(ref.d[b], fp16_to_fp32(fp32_to_fp16(amax / 127)));
      for (int i = 0; i < 32; ++i) {
        const size_t e = static_cast<size_t>(b * 32 + i);
        const float dd = amax / 127;
        EXPECT_LE(std::abs(ref.qs[e]), 127);
        // round to nearest: within half a step of x / d (d before fp16 rounding)
        if (dd != 0) {
          EXPECT_LE(std::fabs(x[e] / dd - ref.qs[e]), 0.5 + 1e-5);
        }
        sum += ref.qs[e];
      }
      EXPECT_EQ(ref.sum[b], sum);
      EXPECT_EQ(ref.sd[b], ref.d[b] * static_cast<float>(sum));
    }
    for (CpuLevel level : levels()) {
      const Q8Buf q = quantize_q8(kernel_table(level), x);
      EXPECT_EQ(q.qs, ref.qs) << cpu_level_name(level);
      EXPECT_EQ(q.d, ref.d) << cpu_level_name(level);
      EXPECT_EQ(q.sd, ref.sd) << cpu_level_name(level);
      EXPECT_EQ(q.sum, ref.sum) << cpu_level_name(level);
    }
  }
}

TEST(KernelsQuantize, Q8KMatchesDefinitionAndIsIdenticalAtEveryLevel) {
  std::mt19937 rng(3);
  for (int64_t m : {256, 512, 4864}) {
    auto x = random_floats(rng, m, -2, 2);
    x.at(5) = -7.0f;  // negative extreme: d comes out negative
    std::vector<BlockQ8_K> ref(static_cast<size_t>(m / 256));
    kernel_table(CpuLevel::kScalar).quantize_q8_K(x.data(), m, ref.data());
    for (int64_t b = 0; b < m / 256; ++b) {
      const BlockQ8_K& q = ref[static_cast<size_t>(b)];
      for (int g = 0; g < 16; ++g) {
        int s = 0;
        for (int i = 0; i < 16; ++i) s += q.qs[16 * g + i];
        EXPECT_EQ(q.bsums[g], s);
      }
      for (int i = 0; i < 256; ++i) {
        EXPECT_LE(std::fabs(x[static_cast<size_t>(b * 256 + i)] - q.d * q.qs[i]), std::fabs(q.d) * 0.5001);
      }
    }
    for (CpuLevel level : levels()) {
      std::vector<BlockQ8_K> got(ref.size());
      kernel_table(level).quantize_q8_K(x.data(), m, got.data());
      EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size() * sizeof(BlockQ8_K)))
          << cpu_level_name(level);
    }
  }
}

struct QuantCase {
  DType type;
  int64_t block;
};

const QuantCase kQuantCases[] = {{DType::Q8_0, 32}, {DType::Q4_0, 32}, {DType::Q4_1, 32},
                                 {DType::Q5_0, 32}, {DType::Q5_1, 32}, {DType::Q4_K, 256},
                                 {DType::Q5_K, 256}, {DType::Q6_K, 256}};

// Reference: exact dequantized weights times exact dequantized activations, summed in double.
// The kernels form each block's integer dot exactly, then do a few float operations per block
// (scale products, conversion, accumulation); with nb blocks the float error is bounded by
// (nb + 8) u sum_i |w_i a_i|.
TEST(KernelsDot, QuantizedMatchExactIntegerReference) {
  std::mt19937 rng(4);
  for (const QuantCase& c : kQuantCases) {
    for (int64_t blocks : {1, 2, 3, 7, 28, 33}) {
      const int64_t n = blocks * c.block;
      const auto w = testing::random_quant_row(rng, c.type, n);
      const auto x = random_floats(rng, n, -2, 2);
      const std::vector<double> wd = testing::dequant(c.type, w.data(), n);
      for (CpuLevel level : levels()) {
        const KernelTable& k = kernel_table(level);
        Activations act;
        act.quantize(c.type, x.data(), 1, n, k);
        std::vector<double> ad(static_cast<size_t>(n));
        if (act.format() == ActFormat::kQ8) {
          const auto* r = static_cast<const Q8Row*>(act.row(0));
          for (int64_t i = 0; i < n; ++i) ad[i] = static_cast<double>(r->d[i / 32]) * r->qs[i];
        } else {
          const auto* r = static_cast<const BlockQ8_K*>(act.row(0));
          for (int64_t i = 0; i < n; ++i) ad[i] = static_cast<double>(r[i / 256].d) * r[i / 256].qs[i % 256];
        }
        double ref = 0, abs_sum = 0;
        for (int64_t i = 0; i < n; ++i) {
          ref += wd[i] * ad[i];
          abs_sum += std::fabs(wd[i] * ad[i]);
        }
        const int64_t nb = n / 32;
        const float got = dot_fn(c.type, k)(w.data(), act.row(0), n);
        EXPECT_NEAR(got, ref, (static_cast<double>(nb) + 8) * kU * abs_sum + 1e-30)
            << dtype_name(c.type) << " n=" << n << " level " << cpu_level_name(level);
      }
    }
  }
}

// sum_i |w_i a_i| for a Q8_0 weight row and a prepared Q8 activation row: the scale of the float
// error bound (nb + 8) u sum|w_i a_i| that the dot and the batched Q8_0 product (which sums in
// another order) both obey, so they are within twice that of each other.
double q8_0_pair_tol(const uint8_t* w, const void* act, int64_t n) {
  const std::vector<double> wd = testing::dequant(DType::Q8_0, w, n);
  const auto* a = static_cast<const Q8Row*>(act);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(wd[i] * a->d[i / 32] * a->qs[i]);
  return 2 * (static_cast<double>(n / 32) + 8) * kU * s;
}

// Matrix products: every quantized output but the batched Q8_0 one is one dot of the same level,
// so they match it bit for bit; batched float products may use a register-blocked tile that sums in another order (then
// within the float dot bound). Either way the result must not depend on the thread count.
TEST(KernelsMatmul, MatchesRowDotsAndIgnoresThreadCount) {
  std::mt19937 rng(5);
  ThreadPool one(1), three(3);
  const DType types[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0,
                         DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q5_K,
                         DType::Q6_K};
  for (DType t : types) {
    const int64_t cols = 512, rows = 37, m = 9;  // tiles of 4 plus leftovers both ways
    const DTypeInfo& info = dtype_info(t);
    std::vector<uint8_t> w;
    if (t == DType::F32) {
      const auto f = random_floats(rng, rows * cols);
      w.resize(f.size() * 4);
      std::memcpy(w.data(), f.data(), w.size());
    } else if (t == DType::F16 || t == DType::BF16) {
      const auto f = random_floats(rng, rows * cols);
      w.resize(f.size() * 2);
      for (size_t i = 0; i < f.size(); ++i) {
        const uint16_t v = t == DType::F16 ? fp32_to_fp16(f[i]) : fp32_to_bf16(f[i]);
        std::memcpy(w.data() + 2 * i, &v, 2);
      }
    } else {
      w = testing::random_quant_row(rng, t, rows * cols);
    }
    const uint64_t rb = cols / info.block_size * info.type_size;
    const auto x = random_floats(rng, m * cols);
    Activations act;
    act.quantize(t, x.data(), m, cols);
    const DotFn dot = dot_fn(t, active());
    std::vector<float> expect(static_cast<size_t>(m * rows));
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t r = 0; r < rows; ++r) expect[i * rows + r] = dot(w.data() + r * rb, act.row(i), cols);
    }
    std::vector<float> y1(expect.size()), y3(expect.size()), yv(static_cast<size_t>(rows));
    matmul(t, w.data(), rows, cols, x.data(), m, y1.data(), &one);
    matmul(t, w.data(), rows, cols, x.data(), m, y3.data(), &three);
    matvec(t, w.data(), rows, cols, x.data() + cols, yv.data(), &three);
    EXPECT_EQ(y1, y3) << dtype_name(t);
    if (t == DType::F32 || t == DType::F16) {
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t r = 0; r < rows; ++r) {
          double abs_sum = 0;
          for (int64_t c = 0; c < cols; ++c) {
            float wf;
            if (t == DType::F32) {
              std::memcpy(&wf, w.data() + (r * cols + c) * 4, 4);
            } else {
              uint16_t hv;
              std::memcpy(&hv, w.data() + (r * cols + c) * 2, 2);
              wf = fp16_to_fp32(hv);
            }
            abs_sum += std::fabs(static_cast<double>(wf) * x[i * cols + c]);
          }
          const size_t o = static_cast<size_t>(i * rows + r);
          EXPECT_NEAR(y1[o], expect[o], 2 * float_dot_tol(cols, abs_sum)) << dtype_name(t);
        }
      }
    } else if (t == DType::Q8_0 && quant_gemm_fn(t, active()) != nullptr) {
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t r = 0; r < rows; ++r) {
          const size_t o = static_cast<size_t>(i * rows + r);
          EXPECT_NEAR(y1[o], expect[o], q8_0_pair_tol(w.data() + r * rb, act.row(i), cols)) << r << " " << i;
        }
      }
    } else {
      EXPECT_EQ(y1, expect) << dtype_name(t);
    }
    EXPECT_EQ(0, std::memcmp(yv.data(), expect.data() + rows, yv.size() * 4)) << dtype_name(t);
  }
}

// The F16 matvec kernel (the row loop that generation dispatches, with its prefetch) must
// return the level's dot bit for bit, over column counts with and without 64- and 16-element
// tails, row counts of any size (remainders of the 2- and 4-stream split), short rows (4
// streams) and rows past 2048 elements (2 prefetched streams), and a row stride wider than the
// row.
TEST(KernelsMatmul, F16MatvecKernelEqualsDots) {
  std::mt19937 rng(11);
  for (CpuLevel level : levels()) {
    const KernelTable& k = kernel_table(level);
    if (k.matvec_f16 == nullptr) continue;
    for (const int64_t cols : {16, 17, 64, 100, 896, 913, 2049, 4864, 4881}) {
      for (const int64_t rows : {1, 3, 4, 6, 7, 8, 12, 13, 37}) {
        const auto f = random_floats(rng, rows * cols);
        std::vector<uint16_t> w(f.size());
        for (size_t i = 0; i < f.size(); ++i) w[i] = fp32_to_fp16(f[i]);
        const auto x = random_floats(rng, cols);
        std::vector<float> y(static_cast<size_t>(rows));
        k.matvec_f16(w.data(), cols, rows, x.data(), cols, y.data());
        for (int64_t r = 0; r < rows; ++r) {
          const float want = k.dot_f16(w.data() + r * cols, x.data(), cols);
          EXPECT_EQ(0, std::memcmp(&want, &y[static_cast<size_t>(r)], 4))
              << cpu_level_name(level) << " rows " << rows << " cols " << cols << " row " << r;
        }
        // Every other row, as a strided view.
        const int64_t half_rows = rows / 2, n = cols - cols / 3;
        std::vector<float> y2(static_cast<size_t>(half_rows));
        k.matvec_f16(w.data(), 2 * cols, half_rows, x.data(), n, y2.data());
        for (int64_t r = 0; r < half_rows; ++r) {
          const float want = k.dot_f16(w.data() + 2 * r * cols, x.data(), n);
          EXPECT_EQ(0, std::memcmp(&want, &y2[static_cast<size_t>(r)], 4))
              << cpu_level_name(level) << " strided rows " << half_rows << " cols " << n;
        }
      }
    }
  }
}

// Float batches of 8+ rows run packed GEMM blocks (64 weight rows x 512 columns per block):
// shapes with several column blocks, a partial row panel and a partial group of 6 rows.
TEST(KernelsMatmul, PackedFloatGemmMatchesDoubleReference) {
  std::mt19937 rng(6);
  ThreadPool one(1), two(2);
  for (DType t : {DType::F32, DType::F16}) {
    const int64_t cols = 1100, rows = 133, m = 13;
    const auto f = random_floats(rng, rows * cols), x = random_floats(rng, m * cols);
    std::vector<uint8_t> w(static_cast<size_t>(rows * cols) * (t == DType::F32 ? 4 : 2));
    std::vector<float> wf(f.size());
    for (size_t i = 0; i < f.size(); ++i) {
      if (t == DType::F32) {
        std::memcpy(w.data() + 4 * i, &f[i], 4);
        wf[i] = f[i];
      } else {
        const uint16_t v = fp32_to_fp16(f[i]);
        std::memcpy(w.data() + 2 * i, &v, 2);
        wf[i] = fp16_to_fp32(v);
      }
    }
    std::vector<float> y1(static_cast<size_t>(m * rows)), y2(y1.size());
    matmul(t, w.data(), rows, cols, x.data(), m, y1.data(), &one);
    matmul(t, w.data(), rows, cols, x.data(), m, y2.data(), &two);
    EXPECT_EQ(y1, y2) << dtype_name(t);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t r = 0; r < rows; ++r) {
        double ref = 0, abs_sum = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const double p = static_cast<double>(wf[r * cols + c]) * x[i * cols + c];
          ref += p;
          abs_sum += std::fabs(p);
        }
        // Up to 512 sequential float additions per block: bound by n eps |terms|.
        EXPECT_NEAR(y1[i * rows + r], ref, 1100 * 6e-8 * abs_sum) << dtype_name(t) << " " << i << " " << r;
      }
    }
  }
}

// The quantized 4x4 tiles and the 4-row single-token products must return exactly the level's
// dots (the float order is the dot's), at every level that has them, with block counts that leave tails in every blocked loop.
TEST(KernelsMatmul, QuantTilesAreBitIdenticalToDots) {
  std::mt19937 rng(11);
  const DType types[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                         DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  int tiled_levels = 0;
  for (CpuLevel level : levels()) {
    const KernelTable& k = kernel_table(level);
    for (DType t : types) {
      const KernelTable::QuantTileFn tile = quant_tile_fn(t, k);
      if (tile == nullptr) continue;
      ++tiled_levels;
      const DTypeInfo& info = dtype_info(t);
      for (int64_t blocks : {1, 2, 3, 4, 5, 6, 7, 15}) {
        const int64_t cols = blocks * info.block_size;
        const uint64_t rb = static_cast<uint64_t>(blocks) * info.type_size;
        auto w = testing::random_quant_row(rng, t, 4 * cols);
        if (t == DType::Q8_0) {  // extreme weights: -128 and 127 (saturation corners)
          for (size_t o = 2; o + 1 < w.size(); o += 17) w[o] = (o / 17) % 2 ? 0x80 : 0x7F;
        }
        auto x = random_floats(rng, 4 * cols);
        for (size_t o = 0; o < x.size(); o += 29) x[o] *= 40.0f;  // outliers set block scales
        Activations act;
        act.quantize(t, x.data(), 4, cols, k);
        const void* rows[4] = {act.row(0), act.row(1), act.row(2), act.row(3)};
        float out[16];
        tile(w.data(), rb, rows, cols, out);
        const DotFn dot = dot_fn(t, k);
        const KernelTable::QuantRows4Fn rows4 = quant_rows4_fn(t, k);
        for (int i = 0; i < 4; ++i) {
          float single[4];
          if (rows4 != nullptr) rows4(w.data(), rb, rows[i], cols, single);
          for (int r = 0; r < 4; ++r) {
            const float e = dot(w.data() + r * rb, rows[i], cols);
            EXPECT_EQ(0, std::memcmp(&out[4 * i + r], &e, 4))
                << dtype_name(t) << " " << cpu_level_name(level) << " blocks " << blocks << " (" << i
                << "," << r << "): " << out[4 * i + r] << " vs " << e;
            if (rows4 != nullptr) {
              EXPECT_EQ(0, std::memcmp(&single[r], &e, 4))
                  << "rows4 " << dtype_name(t) << " " << cpu_level_name(level) << " blocks " << blocks
                  << " (" << i << "," << r << "): " << single[r] << " vs " << e;
            }
          }
        }
      }
    }
  }
  if (cpu_max_level() >= CpuLevel::kAvx512) {
    EXPECT_GE(tiled_levels, 8);
  }
}

// matmul with odd shapes (row and activation tails around the 4x4 tiles, odd block counts)
// equals the per-pair dots exactly, for every quantized type.
TEST(KernelsMatmul, TiledQuantMatmulMatchesPairDotsWithTails) {
  std::mt19937 rng(12);
  ThreadPool two(2);
  const DType types[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                         DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  for (DType t : types) {
    const DTypeInfo& info = dtype_info(t);
    const int64_t cols = (info.block_size == 256 ? 3 : 15) * info.block_size, rows = 13, m = 7;
    const uint64_t rb = cols / info.block_size * info.type_size;
    const auto w = testing::random_quant_row(rng, t, rows * cols);
    const auto x = random_floats(rng, m * cols);
    Activations act;
    act.quantize(t, x.data(), m, cols);
    const DotFn dot = dot_fn(t, active());
    std::vector<float> expect(static_cast<size_t>(m * rows)), y(expect.size());
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t r = 0; r < rows; ++r) expect[i * rows + r] = dot(w.data() + r * rb, act.row(i), cols);
    }
    matmul(t, w.data(), rows, act, y.data(), &two);
    if (t == DType::Q8_0 && quant_gemm_fn(t, active()) != nullptr) {
      // The batched Q8_0 product sums in its own order (KernelsMatmul.BatchedQ8_0Gemm*).
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t r = 0; r < rows; ++r) {
          const size_t o = static_cast<size_t>(i * rows + r);
          EXPECT_NEAR(y[o], expect[o], q8_0_pair_tol(w.data() + r * rb, act.row(i), cols)) << r << " " << i;
        }
      }
    } else {
      EXPECT_EQ(0, std::memcmp(y.data(), expect.data(), y.size() * 4)) << dtype_name(t);
    }
  }
}

TEST(KernelsMatmul, RejectsBadShapesAndTypes) {
  std::vector<uint8_t> w(18 * 4);
  std::vector<float> x(64), y(4);
  EXPECT_THROW(matvec(DType::Q4_0, w.data(), 2, 48, x.data(), y.data()), Error);  // 48 % 32
  EXPECT_THROW(matvec(DType::Q2_K, w.data(), 1, 256, x.data(), y.data()), Error);
  Activations act;
  act.quantize(DType::Q4_0, x.data(), 1, 64);
  EXPECT_THROW(matmul(DType::Q6_K, w.data(), 1, act, y.data()), Error);
}

}  // namespace
}  // namespace omni::kernels

namespace omni::kernels {
namespace {

// The test-side block decoders above and the kernels' activation quantizers were written from
// the layouts independently of core/quant (ggml's reference code, bit-exact); they must agree.
TEST(KernelsCrossCheck, DecodersAgreeWithQuantReference) {
  std::mt19937 rng(6);
  for (const QuantCase& c : kQuantCases) {
    const int64_t n = 7 * 256;
    const auto w = testing::random_quant_row(rng, c.type, n);
    const std::vector<double> mine = testing::dequant(c.type, w.data(), n);
    std::vector<float> ref(static_cast<size_t>(n));
    dequantize_row(c.type, w.data(), ref.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      // ggml rounds d * scale (and dmin * min) to float before use: a few float ulps apart.
      EXPECT_NEAR(mine[i], ref[i], 4e-7 * (std::fabs(ref[i]) + 1e-3)) << dtype_name(c.type) << " " << i;
    }
  }
}

TEST(KernelsCrossCheck, ActivationQuantizersMatchGgmlReference) {
  std::mt19937 rng(7);
  const int64_t n = 4864;
  auto x = random_floats(rng, n, -3, 3);
  x.at(300) = -9.0f;
  std::vector<BlockQ8_0> r0(static_cast<size_t>(n / 32));
  quantize_row_q8_0(x.data(), r0.data(), n);
  std::vector<BlockQ8_K> rk(static_cast<size_t>(n / 256));
  quantize_row_q8_K(x.data(), rk.data(), n);
  for (CpuLevel level : levels()) {
    Activations a0, ak;
    a0.quantize(DType::Q4_0, x.data(), 1, n, kernel_table(level));
    ak.quantize(DType::Q4_K, x.data(), 1, n, kernel_table(level));
    const auto* q = static_cast<const Q8Row*>(a0.row(0));
    for (int64_t b = 0; b < n / 32; ++b) {
      EXPECT_EQ(q->d[b], fp16_to_fp32(r0[static_cast<size_t>(b)].d)) << b;
      EXPECT_EQ(0, std::memcmp(q->qs + 32 * b, r0[static_cast<size_t>(b)].qs, 32)) << b;
    }
    EXPECT_EQ(0, std::memcmp(ak.row(0), rk.data(), rk.size() * sizeof(BlockQ8_K)))
        << cpu_level_name(level);
  }
}


// The batched quantized products (weights unpacked once per call) return exactly the level's
// dots, over row counts that leave 4-, 2- and 1-row remainders, activation counts that leave
// partial groups, and block counts with and without a tail past the 4-block steps; y is
// written with a row stride wider than the row count, and nothing outside the block changes.
TEST(KernelsMatmul, BatchedQuantGemmIsBitIdenticalToDots) {
  std::mt19937 rng(21);
  int tested = 0;
  for (CpuLevel level : {CpuLevel::kScalar, CpuLevel::kAvx2, CpuLevel::kAvx512}) {
    if (level > cpu_max_level()) continue;
    const KernelTable& k = kernel_table(level);
    for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
      const KernelTable::QuantGemmFn gemm = quant_gemm_fn(t, k);
      if (gemm == nullptr) continue;
      const DTypeInfo& info = dtype_info(t);
      const bool k_quant = info.block_size == 256;
      for (int64_t blocks : {k_quant ? int64_t{1} : int64_t{3}, k_quant ? int64_t{9} : int64_t{13}}) {
        const int64_t cols = blocks * info.block_size, rows = 11, m = 13, ys = rows + 5;
        const uint64_t rb = static_cast<uint64_t>(blocks) * info.type_size;
        const auto w = testing::random_quant_row(rng, t, rows * cols);
        const auto x = random_floats(rng, m * cols);
        Activations act;
        act.quantize(t, x.data(), m, cols, k);
        std::vector<const void*> rows_act(static_cast<size_t>(m));
        for (int64_t i = 0; i < m; ++i) rows_act[static_cast<size_t>(i)] = act.row(i);
        std::vector<float> y(static_cast<size_t>(m * ys), -7.0f);
        gemm(w.data(), rb, rows, rows_act.data(), m, cols, y.data(), ys);
        const DotFn dot = dot_fn(t, k);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t r = 0; r < ys; ++r) {
            const float got = y[static_cast<size_t>(i * ys + r)];
            const float want = r < rows ? dot(w.data() + r * rb, act.row(i), cols) : -7.0f;
            ASSERT_EQ(0, std::memcmp(&got, &want, 4)) << dtype_name(t) << " cols " << cols << " row " << r << " act " << i;
          }
        }
        ++tested;
      }
    }
  }
  if (cpu_max_level() >= CpuLevel::kAvx512) {
    EXPECT_EQ(tested, 10);
  }
}

// The batched Q8_0 product (its own summation order) against the exact integer reference with
// the dot's error bound, over the same remainder shapes as above (4-, 2-, 1-row remainders,
// partial activation groups, block tails), extreme weights (-128 and 127) and all-zero blocks;
// y's padding columns stay untouched.
TEST(KernelsMatmul, BatchedQ8_0GemmMatchesExactIntegerReference) {
  std::mt19937 rng(22);
  int tested = 0;
  for (CpuLevel level : {CpuLevel::kScalar, CpuLevel::kAvx2, CpuLevel::kAvx512}) {
    if (level > cpu_max_level()) continue;
    const KernelTable& k = kernel_table(level);
    const KernelTable::QuantGemmFn gemm = quant_gemm_fn(DType::Q8_0, k);
    if (gemm == nullptr) continue;
    for (int64_t blocks : {int64_t{1}, int64_t{3}, int64_t{13}, int64_t{28}}) {
      const int64_t cols = blocks * 32, rows = 11, m = 13, ys = rows + 5;
      const uint64_t rb = static_cast<uint64_t>(blocks) * sizeof(BlockQ8_0);
      auto w = testing::random_quant_row(rng, DType::Q8_0, rows * cols);
      auto* wq = reinterpret_cast<BlockQ8_0*>(w.data());
      for (int i = 0; i < 32; ++i) wq[0].qs[i] = static_cast<int8_t>(i % 2 ? 127 : -128);
      auto x = random_floats(rng, m * cols, -3, 3);
      for (int i = 0; i < 32; ++i) x[static_cast<size_t>(cols + i)] = 0;  // a zero block in row 1
      Activations act;
      act.quantize(DType::Q8_0, x.data(), m, cols, k);
      std::vector<const void*> rows_act(static_cast<size_t>(m));
      for (int64_t i = 0; i < m; ++i) rows_act[static_cast<size_t>(i)] = act.row(i);
      std::vector<float> y(static_cast<size_t>(m * ys), -7.0f);
      gemm(w.data(), rb, rows, rows_act.data(), m, cols, y.data(), ys);
      const std::vector<double> wd = testing::dequant(DType::Q8_0, w.data(), rows * cols);
      for (int64_t i = 0; i < m; ++i) {
        const auto* a = static_cast<const Q8Row*>(act.row(i));
        for (int64_t r = 0; r < ys; ++r) {
          const float got = y[static_cast<size_t>(i * ys + r)];
          if (r >= rows) {
            ASSERT_EQ(got, -7.0f);
            continue;
          }
          double ref = 0, abs_sum = 0;
          for (int64_t e = 0; e < cols; ++e) {
            const double p = wd[static_cast<size_t>(r * cols + e)] * (static_cast<double>(a->d[e / 32]) * a->qs[e]);
            ref += p;
            abs_sum += std::fabs(p);
          }
          ASSERT_NEAR(got, ref, (static_cast<double>(blocks) + 8) * kU * abs_sum + 1e-30)
              << "cols " << cols << " row " << r << " act " << i;
        }
      }
      ++tested;
    }
  }
  if (cpu_max_level() >= CpuLevel::kAvx512) {
    EXPECT_EQ(tested, 4);
  }
}

}  // namespace
}  // namespace omni::kernels
