#include "vision/attention.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/kernels.h"
#include "core/thread_pool.h"
#include "vision/attention_avx512.h"

namespace omni::vision {
namespace {

constexpr int64_t kChunk = 48;  // query rows per work item

// Levels without the packed block: score rows by dots, P V four query rows at a time.
void attention_dots(const kernels::KernelTable& kt, const float* q, const float* k, const float* v,
                    int64_t ld, int64_t n, int n_head, int64_t d, float scale, float* out,
                    ThreadPool& pool) {
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
          const float* qi = q + (i0 + a) * ld + h * dh;
          for (int64_t j = 0; j < n; ++j) sa[j] = kt.dot_f32(qi, k + j * ld + h * dh, dh);
          kt.softmax(sa, n, scale, nullptr);
        }
        float o[4 * 64];
        for (int64_t e0 = 0; e0 < dh; e0 += 64) {
          const int64_t ne = std::min<int64_t>(64, dh - e0);
          kt.attn_pv4(s.data(), n, n, v + h * dh + e0, ld, ne, o, 64);
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
  self_attention(kernels::active(), q, k, v, d, n, n_head, d, scale, out, pool);
}

void self_attention(const float* q, const float* k, const float* v, int64_t ld, int64_t n,
                    int n_head, int64_t d, float scale, float* out, ThreadPool& pool) {
  self_attention(kernels::active(), q, k, v, ld, n, n_head, d, scale, out, pool);
}

void self_attention(const kernels::KernelTable& kt, const float* q, const float* k,
                    const float* v, int64_t n, int n_head, int64_t d, float scale, float* out,
                    ThreadPool& pool) {
  self_attention(kt, q, k, v, d, n, n_head, d, scale, out, pool);
}

void self_attention(const kernels::KernelTable& kt, const float* q, const float* k,
                    const float* v, int64_t ld, int64_t n, int n_head, int64_t d, float scale,
                    float* out, ThreadPool& pool) {
  if (kt.gemm6x64_f32 != nullptr && kt.pack64_f32 != nullptr) {
    detail::self_attention_avx512(kt, q, k, v, ld, n, n_head, d, scale, out, pool);
  } else {
    attention_dots(kt, q, k, v, ld, n, n_head, d, scale, out, pool);
  }
}

}  // namespace omni::vision
