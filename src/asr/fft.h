// Real-input DFT with whisper.cpp's exact arithmetic, so that log-mel spectrograms match
// whisper.cpp bit for bit (not merely within rounding noise).
//
// whisper.cpp splits a size-n transform recursively into even/odd halves until the size is odd,
// computes those leaves with a naive DFT, and combines with radix-2 butterflies; every sine and
// cosine comes from one float table sin/cos(2*pi*i/n) (evaluated as sinf/cosf of a float angle).
// This class evaluates the same sums in the same order and float precision, but iteratively,
// without allocation, with the leaf DFTs of all sub-sequences running side by side (SIMD lanes)
// and with only the bins a real input needs (0..n/2) in the last butterfly stage.
#pragma once

#include <vector>

namespace omni::asr {

class WhisperFft {
 public:
  // n >= 1. Cost grows with the odd part of n squared (n = 400: 16 DFTs of size 25).
  explicit WhisperFft(int n);

  int size() const { return n_; }
  int bins() const { return n_ / 2 + 1; }

  // in: n real samples. re/im: bins() values each (bins 0..n/2). Not thread-safe (scratch is
  // owned): use one object per thread.
  void transform(const float* in, float* re, float* im);

 private:
  void leaf_dfts(const float* in, float* re, float* im);

  int n_ = 0;
  int odd_ = 1;                             // M: size of the leaf DFTs (odd part of n)
  int leaves_ = 1;                          // R = n / M, a power of two
  std::vector<float> cos_, sin_;            // whisper's table, n entries
  std::vector<float> leaf_cos_, leaf_sin_;  // [k][j] = table[(k * j * R) % n], M x M
  std::vector<float> buf_re_[2], buf_im_[2];
  std::vector<float> acc_re_, acc_im_;
  std::vector<float> tw_re_, tw_im_;  // per-stage twiddles (cos, -sin), contiguous over k
};

}  // namespace omni::asr
