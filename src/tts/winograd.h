// Winograd / Toom-Cook minimal filtering F(m, r) for the 1-D convolutions of VITS (stride 1,
// groups 1, any dilation): m outputs of an r-tap filter from n = m + r - 1 multiplications per
// (input, output) channel pair instead of m * r. In GEMM form: the input is cut into tiles of n
// samples (stepping by m), each tile is transformed (B^T), then n independent GEMMs
// [cout x cin] x [cin x tiles] run on the ordinary kernel of conv_gemm.h with pre-transformed
// weights (G w), and the n products are folded back into m outputs per tile (A^T).
//
// Dilation d only spaces the taps: outputs t = q*m*d + p + d*j (p < d, j < m) form one tile
// whose inputs are q*m*d + p + d*i (i < n), so the padded input is split once into m*d phase
// rows and every transform step reads and writes contiguous runs.
//
// Interpolation points 0, +-1, +-2, +-1/2 (and +-3 for n = 10) plus infinity keep the float32
// error a few times the direct convolution's (measured in winograd_test.cc). The transforms
// are computed in double from the points, so no hand-typed matrices.
#pragma once

#include <cstdint>
#include <vector>

#include "tts/conv_gemm.h"

namespace omni {
class ThreadPool;
}

namespace omni::tts {

class WinogradConv {
 public:
  // Output tile size used for an r-tap filter at a dilation with cout output channels (0:
  // none; the layer stays direct).
  static int tile_for(int r, int dilation, int cout);
  // Whether fast algorithms are on: default yes; OMNI_TTS_DIRECT=1 in the environment turns
  // them off (for A/B error and speed measurements), read once.
  static bool enabled_by_default();

  // Weights [cout, cin, r] (torch Conv1d layout), m outputs per tile.
  void prepare(const float* w, int cout, int cin, int r, int dilation, int m);
  bool ready() const { return !u_.empty(); }

  // y[co, t] = bias[co] + sum_{ci,k} w[co,ci,k] * act(x)[ci, t + k*dilation - pad], t < tout,
  // with act = leaky_relu(in_slope) (identity for 1) and zero padding. x is [cin, tin] with
  // row stride tin; y is [cout, tout] with row stride tout; res (if not null, same layout as
  // y): y = conv + res (a residual connection). y and res may alias x or each other. Results do
  // not depend on the pool's size.
  void run(const float* x, int tin, int pad, float in_slope, const float* bias, float* y,
           int tout, const float* res, ThreadPool* pool) const;

  // y = (y + (x + conv(act(x)))) * scale, elementwise: a residual step added straight into a
  // running sum (the decoder's mean of parallel blocks) instead of a new activation. y must
  // not alias x; tin == tout, cin == cout. Same values as run() then the sum, bit for bit.
  void run_into(const float* x, int tin, int pad, float in_slope, const float* bias, float* y,
                int tout, float scale, ThreadPool* pool) const;

  // The same convolution with its cout = interleave * yc output channels written as phases:
  // channel ph * yc + co, output t goes to y[co, t * interleave + ph] for indices < ylen (y is
  // [yc, ylen]; ylen <= tout * interleave), bias has yc entries. The polyphase form of a
  // transposed convolution.
  void run_interleaved(const float* x, int tin, int pad, float in_slope, const float* bias,
                       float* y, int tout, int ylen, int interleave, ThreadPool* pool) const;

  int m() const { return m_; }
  // Whether the paired (cheaper) transforms are used.
  bool paired() const { return paired_; }
  int n() const { return n_; }

 private:
  int cin_ = 0, cout_ = 0, r_ = 0, d_ = 1, m_ = 0, n_ = 0;
  std::vector<float> bt_;  // [n][n]: V_a = sum_i bt[a][i] * x_i
  std::vector<float> at_;  // [m][n]: y_j = sum_a at[j][a] * M_a
  // The points come in +-p pairs (the usual case): transforms share partial sums per pair.
  bool paired_ = false;
  std::vector<float> sgn_;  // per pair: V_{2k+2} = sgn * (even - odd partial sums)
  std::vector<PackedWeights> u_;  // n packed [cout, cin] matrices U_a = sum_k G[a][k] w[.., k]

  // run / run_interleaved (inter 1: y is [cout, ylen = tout], with res).
  void run_impl(const float* x, int tin, int pad, float in_slope, const float* bias, float* y,
                int tout, int ylen, int inter, const float* res, ThreadPool* pool,
                bool into_y = false, float scale = 1.f) const;
};

// y[i] = ob[s * ldo + q] (+ res[i] if res is not null), i = q * span + s, for q < cc and
// i < limit: interleaves `span` phase rows into one row (4x4 SSE transposes where span % 4 == 0).
// into_y: y[i] = (y[i] + that value) * scale instead (a running sum of several outputs).
void merge_phases(const float* ob, int ldo, int span, int cc, float* y, int limit,
                  const float* res, bool into_y = false, float scale = 1.f);

// The transform matrices for F(m, r) (exposed for tests): bt [n][n], g [n][r], at [m][n], in
// double, for y = A^T ((G w) .* (B^T x)) with y_j = sum_k w_k x_{j+k}.
void winograd_matrices(int m, int r, std::vector<double>* bt, std::vector<double>* g,
                       std::vector<double>* at);

}  // namespace omni::tts
