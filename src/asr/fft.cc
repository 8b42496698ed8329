#include "asr/fft.h"

#include <cmath>

#include "core/error.h"

namespace omni::asr {

WhisperFft::WhisperFft(int n) : n_(n) {
  if (n < 1) throw Error("WhisperFft: size must be >= 1, got " + std::to_string(n));
  odd_ = n;
  leaves_ = 1;
  while (odd_ % 2 == 0) {
    odd_ /= 2;
    leaves_ *= 2;
  }
  cos_.resize(n);
  sin_.resize(n);
  for (int i = 0; i < n; ++i) {
    // whisper.cpp: double theta = 2*pi*i/n; sinf(theta) -- i.e. the float of the double angle.
    const double theta = (2 * M_PI * i) / n;
    sin_[i] = std::sin(static_cast<float>(theta));
    cos_[i] = std::cos(static_cast<float>(theta));
  }
  const int m = odd_;
  leaf_cos_.resize(static_cast<size_t>(m) * m);
  leaf_sin_.resize(static_cast<size_t>(m) * m);
  for (int k = 0; k < m; ++k) {
    for (int j = 0; j < m; ++j) {
      // The naive DFT's table index for sub-size M: (k * j * n/M) mod n.
      const long idx = (static_cast<long>(k) * j * leaves_) % n;
      leaf_cos_[static_cast<size_t>(k) * m + j] = cos_[idx];
      leaf_sin_[static_cast<size_t>(k) * m + j] = sin_[idx];
    }
  }
  for (auto& b : buf_re_) b.resize(n);
  for (auto& b : buf_im_) b.resize(n);
  acc_re_.resize(leaves_);
  acc_im_.resize(leaves_);
  tw_re_.resize(n / 2 + 1);
  tw_im_.resize(n / 2 + 1);
}

namespace {

// Four float lanes (GCC/Clang vector extension: SSE on x86-64, NEON on arm64). Lane-wise IEEE
// operations, so results equal the scalar evaluation bit for bit.
typedef float F4 __attribute__((vector_size(16)));

F4 load4(const float* p) {
  F4 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

// n = 16 * M (Whisper's 400 = 16 * 25): the 16 leaves as four 4-lane vectors held in registers.
void leaf_dfts_16(const float* in, const float* leaf_cos, const float* leaf_sin, int m, float* re,
                  float* im) {
  for (int k = 0; k < m; ++k) {
    F4 r0 = {}, r1 = {}, r2 = {}, r3 = {}, i0 = {}, i1 = {}, i2 = {}, i3 = {};
    const float* ck = leaf_cos + static_cast<size_t>(k) * m;
    const float* sk = leaf_sin + static_cast<size_t>(k) * m;
    for (int j = 0; j < m; ++j) {
      const F4 c = {ck[j], ck[j], ck[j], ck[j]};
      const F4 s = {sk[j], sk[j], sk[j], sk[j]};
      const float* x = in + static_cast<size_t>(j) * 16;
      const F4 x0 = load4(x), x1 = load4(x + 4), x2 = load4(x + 8), x3 = load4(x + 12);
      r0 += x0 * c, r1 += x1 * c, r2 += x2 * c, r3 += x3 * c;
      i0 -= x0 * s, i1 -= x1 * s, i2 -= x2 * s, i3 -= x3 * s;
    }
    const F4 rs[4] = {r0, r1, r2, r3}, is[4] = {i0, i1, i2, i3};
    for (int o = 0; o < 16; ++o) {
      re[o * m + k] = rs[o / 4][o % 4];
      im[o * m + k] = is[o / 4][o % 4];
    }
  }
}

}  // namespace

void WhisperFft::leaf_dfts(const float* in, float* re, float* im) {
  const int m = odd_, r = leaves_;
  float* acc_re = acc_re_.data();
  float* acc_im = acc_im_.data();
  for (int k = 0; k < m; ++k) {
    for (int o = 0; o < r; ++o) acc_re[o] = 0.0f, acc_im[o] = 0.0f;
    const float* ck = &leaf_cos_[static_cast<size_t>(k) * m];
    const float* sk = &leaf_sin_[static_cast<size_t>(k) * m];
    for (int j = 0; j < m; ++j) {
      const float c = ck[j], s = sk[j];
      const float* x = in + static_cast<size_t>(j) * r;
      for (int o = 0; o < r; ++o) {
        acc_re[o] += x[o] * c;
        acc_im[o] -= x[o] * s;
      }
    }
    for (int o = 0; o < r; ++o) {
      re[o * m + k] = acc_re[o];
      im[o * m + k] = acc_im[o];
    }
  }
}

void WhisperFft::transform(const float* in, float* out_re, float* out_im) {
  const int m = odd_, r = leaves_;
  float* re = buf_re_[0].data();
  float* im = buf_im_[0].data();

  // Leaf o (0 <= o < R) is the DFT of x[o], x[o + R], x[o + 2R], ...: the sub-sequence the
  // even/odd recursion reaches after log2(R) splits. For fixed j those inputs are contiguous
  // over o, so the R leaves advance together; each lane still accumulates over j in order.
  if (r == 16) {
    leaf_dfts_16(in, leaf_cos_.data(), leaf_sin_.data(), m, re, im);
  } else {
    leaf_dfts(in, re, im);  // any other size: same sums, lanes in memory
  }

  // Butterfly stages. Before a stage, block o (0 <= o < S) holds the size-h transform of the
  // stride-S sub-sequence starting at o; blocks o and o + S/2 combine into the size-2h transform
  // of the stride-S/2 sub-sequence starting at o, with twiddles table[k * n / (2h)].
  int stride = r, h = m, cur = 0;
  while (stride > 1) {
    const int half = stride / 2, step = n_ / (2 * h);
    for (int k = 0; k < h; ++k) {
      tw_re_[k] = cos_[static_cast<size_t>(k) * step];
      tw_im_[k] = -sin_[static_cast<size_t>(k) * step];
    }
    const float* wr = tw_re_.data();
    const float* wi = tw_im_.data();
    const bool last = half == 1;
    const float* sre = buf_re_[cur].data();
    const float* sim = buf_im_[cur].data();
    float* dre = last ? out_re : buf_re_[1 - cur].data();
    float* dim = last ? out_im : buf_im_[1 - cur].data();
    for (int o = 0; o < half; ++o) {
      const float* er = sre + static_cast<size_t>(o) * h;
      const float* ei = sim + static_cast<size_t>(o) * h;
      const float* od_r = sre + static_cast<size_t>(o + half) * h;
      const float* od_i = sim + static_cast<size_t>(o + half) * h;
      float* lo_r = dre + static_cast<size_t>(o) * 2 * h;
      float* lo_i = dim + static_cast<size_t>(o) * 2 * h;
      // whisper.cpp: out[k] = E + w*O, out[k + h] = E - w*O, each evaluated left to right.
      for (int k = 0; k < h; ++k) {
        lo_r[k] = er[k] + wr[k] * od_r[k] - wi[k] * od_i[k];
        lo_i[k] = ei[k] + wr[k] * od_i[k] + wi[k] * od_r[k];
      }
      if (last) {
        // A real input's spectrum is symmetric: of the upper half only bin n/2 (k = 0) is kept.
        lo_r[h] = er[0] - wr[0] * od_r[0] + wi[0] * od_i[0];
        lo_i[h] = ei[0] - wr[0] * od_i[0] - wi[0] * od_r[0];
      } else {
        float* hi_r = lo_r + h;
        float* hi_i = lo_i + h;
        for (int k = 0; k < h; ++k) {
          hi_r[k] = er[k] - wr[k] * od_r[k] + wi[k] * od_i[k];
          hi_i[k] = ei[k] - wr[k] * od_i[k] - wi[k] * od_r[k];
        }
      }
    }
    cur = 1 - cur;
    stride = half;
    h *= 2;
  }
  if (r == 1) {
    // Odd n: the leaf DFT is the whole transform.
    for (int k = 0; k < bins(); ++k) {
      out_re[k] = re[k];
      out_im[k] = im[k];
    }
  }
}

}  // namespace omni::asr
