#include "vision/attention.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "core/kernels.h"
#include "core/thread_pool.h"

namespace omni::vision {
namespace {

constexpr int64_t kPanel = 64;    // columns of one packed GEMM block
constexpr int64_t kRows = 6;      // query rows of one GEMM block
constexpr int64_t kChunk = 48;    // query rows per work item (8 blocks)

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

struct AlignedFree {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

AlignedFloats aligned_floats(int64_t n) {
  auto* p = static_cast<float*>(::operator new[](static_cast<size_t>(n) * sizeof(float),
                                                 std::align_val_t{64}));
  return AlignedFloats(p);
}

// Both products of every head as GEMMs on the 6 x 64 packed block, fused per block of 6 query
// rows so the score rows stay in L1/L2: S = q_h K_h^T over 64-key panels (K packed k-major,
// kc = dh), softmax of each row, then P V_h over 64-column panels of V (packed [key][64], which
// is V's own row layout, kc = n). Keys and head columns past the end are zero in the packs.
void attention_gemm(const kernels::KernelTable& kt, const float* q, const float* k, const float* v,
                    int64_t n, int n_head, int64_t d, float scale, float* out, ThreadPool& pool) {
  const int64_t dh = d / n_head;
  const int64_t key_panels = round_up(n, kPanel) / kPanel;
  const int64_t n_pad = key_panels * kPanel;
  const int64_t out_panels = round_up(dh, kPanel) / kPanel;
  const int64_t k_head = n_pad * dh;               // floats of one head's packed K
  const int64_t v_head = out_panels * n * kPanel;  // floats of one head's packed V
  AlignedFloats kp = aligned_floats(n_head * k_head);
  AlignedFloats vp = aligned_floats(n_head * v_head);
  pool.parallel_for(n_head, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      float* K = kp.get() + h * k_head;
      for (int64_t p = 0; p < key_panels; ++p) {
        float* panel = K + p * kPanel * dh;
        for (int64_t r = 0; r < kPanel; ++r) {
          const int64_t j = p * kPanel + r;
          const float* src = k + j * d + h * dh;
          for (int64_t e = 0; e < dh; ++e) panel[kPanel * e + r] = j < n ? src[e] : 0.0f;
        }
      }
      float* V = vp.get() + h * v_head;
      for (int64_t p = 0; p < out_panels; ++p) {
        const int64_t e0 = p * kPanel, ne = std::min(kPanel, dh - e0);
        float* panel = V + p * n * kPanel;
        for (int64_t j = 0; j < n; ++j) {
          float* dst = panel + j * kPanel;
          std::memcpy(dst, v + j * d + h * dh + e0, static_cast<size_t>(ne) * sizeof(float));
          std::fill(dst + ne, dst + kPanel, 0.0f);
        }
      }
    }
  });

  const int64_t chunks = (n + kChunk - 1) / kChunk;
  pool.parallel_for(n_head * chunks, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> buf;
    buf.resize(static_cast<size_t>(kRows * n_pad + kRows * kPanel + 16));
    float* s = buf.data();                  // kRows score rows, n_pad apart
    float* c = s + kRows * n_pad;           // one block's output
    for (int64_t item = b; item < e; ++item) {
      const int64_t h = item / chunks;
      const int64_t i_end = std::min(n, (item % chunks + 1) * kChunk);
      const float* K = kp.get() + h * k_head;
      const float* V = vp.get() + h * v_head;
      for (int64_t i0 = (item % chunks) * kChunk; i0 < i_end; i0 += kRows) {
        const int64_t m = std::min(kRows, i_end - i0);
        const float* qi = q + i0 * d + h * dh;
        for (int64_t p = 0; p < key_panels; ++p) {
          kt.gemm6x64_f32(K + p * kPanel * dh, dh, qi, d, m, c);
          for (int64_t a = 0; a < m; ++a) {
            std::memcpy(s + a * n_pad + p * kPanel, c + kPanel * a, kPanel * sizeof(float));
          }
        }
        for (int64_t a = 0; a < m; ++a) kt.softmax(s + a * n_pad, n, scale, nullptr);
        for (int64_t p = 0; p < out_panels; ++p) {
          const int64_t e0 = p * kPanel, ne = std::min(kPanel, dh - e0);
          kt.gemm6x64_f32(V + p * n * kPanel, n, s, n_pad, m, c);
          for (int64_t a = 0; a < m; ++a) {
            std::memcpy(out + (i0 + a) * d + h * dh + e0, c + kPanel * a,
                        static_cast<size_t>(ne) * sizeof(float));
          }
        }
      }
    }
  });
}

// Levels without the packed block: score rows by dots, P V four query rows at a time.
void attention_dots(const kernels::KernelTable& kt, const float* q, const float* k, const float* v,
                    int64_t n, int n_head, int64_t d, float scale, float* out, ThreadPool& pool) {
  const int64_t dh = d / n_head;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  pool.parallel_for(n_head * chunks, [&](int64_t b, int64_t e) {
    std::vector<float> s(static_cast<size_t>(4 * n));
    for (int64_t item = b; item < e; ++item) {
      const int64_t h = item / chunks;
      const int64_t i_end = std::min(n, (item % chunks + 1) * kChunk);
      for (int64_t i0 = (item % chunks) * kChunk; i0 < i_end; i0 += 4) {
        const int64_t m = std::min<int64_t>(4, i_end - i0);
        for (int64_t a = 0; a < 4; ++a) {
          float* sa = s.data() + a * n;
          if (a >= m) {
            std::fill(sa, sa + n, 0.0f);
            continue;
          }
          const float* qi = q + (i0 + a) * d + h * dh;
          for (int64_t j = 0; j < n; ++j) sa[j] = kt.dot_f32(qi, k + j * d + h * dh, dh);
          kt.softmax(sa, n, scale, nullptr);
        }
        float o[4 * 64];
        for (int64_t e0 = 0; e0 < dh; e0 += 64) {
          const int64_t ne = std::min<int64_t>(64, dh - e0);
          kt.attn_pv4(s.data(), n, n, v + h * dh + e0, d, ne, o, 64);
          for (int64_t a = 0; a < m; ++a) {
            std::memcpy(out + (i0 + a) * d + h * dh + e0, o + 64 * a,
                        static_cast<size_t>(ne) * sizeof(float));
          }
        }
      }
    }
  });
}

}  // namespace

void self_attention(const float* q, const float* k, const float* v, int64_t n, int n_head,
                    int64_t d, float scale, float* out, ThreadPool& pool) {
  self_attention(kernels::active(), q, k, v, n, n_head, d, scale, out, pool);
}

void self_attention(const kernels::KernelTable& kt, const float* q, const float* k,
                    const float* v, int64_t n, int n_head, int64_t d, float scale, float* out,
                    ThreadPool& pool) {
  if (kt.gemm6x64_f32 != nullptr) {
    attention_gemm(kt, q, k, v, n, n_head, d, scale, out, pool);
  } else {
    attention_dots(kt, q, k, v, n, n_head, d, scale, out, pool);
  }
}

}  // namespace omni::vision
