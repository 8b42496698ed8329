// The hot loop of VITS: a convolution as a matrix product Y[m, n] = bias[m] + sum_r A[m, r] *
// B_r[n], where row r of B is a pointer into the (padded) input, so no im2col copy is needed:
// for Conv1d, r = (ci, kk) and B_r = x[ci] + kk * dilation. A register-blocked kernel (8 rows x
// 32 columns with AVX-512, 16 with AVX2+FMA, else portable code) computes every output element
// with the same summation order whatever the column split, so results do not depend on the
// thread count.
#pragma once

#include <cstdint>
#include <vector>

namespace omni {
class ThreadPool;
}

namespace omni::tts {

// A [m, k] row-major weights packed into panels of kRows rows: panel p holds, for each r, the
// kRows values A[p*kRows + i, r] (zero past m).
struct PackedWeights {
  static constexpr int kRows = 8;
  int m = 0, k = 0;
  std::vector<float> data;
  void pack(const float* a, int rows, int cols, int lda);
};

// Y[i, 0..n) for all rows; b_rows[r] must be readable for n + 31 floats past its start
// (callers pad). y has row stride ldy. bias may be null. With `accumulate`, Y is added to what
// y holds: y = (A*B + bias) + y, the order of a separate residual add.
void gemm_rows(const PackedWeights& a, const float* const* b_rows, int n, const float* bias,
               float* y, int64_t ldy, ThreadPool* pool, bool accumulate = false);

// dst[i] = leaky_relu(src[i], slope) (a copy for slope 1), branch-free (the sign of
// activations is a coin flip for the branch predictor).
void act_copy(const float* src, int n, float slope, float* dst);

}  // namespace omni::tts
