#include "tts/conv_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/thread_pool.h"

namespace omni::tts {
namespace {

// Every output element is one fused multiply-add chain over ascending r from 0, then + bias,
// then + y when accumulating, whichever tile kernel (32, 16 or narrow tail columns, partial
// panels) and thread computed it: the bits the convolution paths rely on for chunked == whole.
// (One-row matrices have their own kernel with two chains, not covered here.)
TEST(ConvGemm, EveryColumnCountGivesTheChainBits) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  ThreadPool pool(2);
  for (int m : {5, 8, 20, 40}) {
    const int k = 37;
    std::vector<float> a(static_cast<size_t>(m) * k), bias(static_cast<size_t>(m));
    for (float& v : a) v = normal(rng);
    for (float& v : bias) v = normal(rng);
    PackedWeights pw;
    pw.pack(a.data(), m, k, k);
    for (int n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33, 34, 36, 40, 41, 64, 66, 70}) {
      const int ld = n + 32;
      std::vector<float> b(size_t(k) * ld);
      for (float& v : b) v = normal(rng);
      std::vector<const float*> rows(static_cast<size_t>(k));
      for (int r = 0; r < k; ++r) rows[size_t(r)] = b.data() + size_t(r) * ld;
      std::vector<float> y0(size_t(m) * n);
      for (float& v : y0) v = normal(rng);
      for (bool acc : {false, true}) {
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::vector<float> y = y0;
          gemm_rows(pw, rows.data(), n, bias.data(), y.data(), n, p, acc);
          for (int i = 0; i < m; ++i) {
            for (int j = 0; j < n; ++j) {
              float s = 0.f;
              for (int r = 0; r < k; ++r) s = std::fma(a[size_t(i) * k + r], rows[size_t(r)][j], s);
              float want = s + bias[size_t(i)];
              if (acc) want = want + y0[size_t(i) * n + j];
              const float got = y[size_t(i) * n + j];
              ASSERT_EQ(0, std::memcmp(&got, &want, sizeof got))
                  << "m " << m << " n " << n << " row " << i << " col " << j << " acc " << acc;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace omni::tts
