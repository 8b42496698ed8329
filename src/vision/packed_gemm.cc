#include "vision/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "core/error.h"
#include "core/kernels.h"
#include "core/thread_pool.h"

namespace omni::vision {
namespace {

constexpr int64_t kNr = 64;   // weight rows per panel (the GEMM block's width)
constexpr int64_t kMr = 6;    // activation rows per GEMM block
constexpr int64_t kKc = 512;  // inputs per k-block (a 128 KiB float panel, stays in L2)
constexpr int kMaxTerms = 8;
constexpr int kMaxDests = 16;

size_t elem_size(DType t) { return t == DType::F16 ? 2 : 4; }

// One weight block of a (sub-)product: panels starting at `panel`, inputs from `k0`, times sign.
struct WTerm {
  int64_t panel, k0;
  float sign;
};

// One output block a (sub-)product adds into, in the panel-major product buffer (panel p, row r
// at cp[(p * M + r) * 64]): panels from p0, rows from r0, `rows` valid rows, times sign.
struct Dest {
  int64_t p0, r0, rows;
  float sign;
};

struct Product {
  float* cp = nullptr;  // the panel-major product buffer of the whole gemm
  int64_t M = 0;        // its rows
  int nt = 0, nd = 0;
  WTerm t[kMaxTerms];
  Dest d[kMaxDests];
};

// Buffers of one thread: a float panel for the combined weights, the
// block output and the partial sums over k-blocks, 64-byte aligned.
struct Scratch {
  std::vector<float> buf;
  float *wp, *c, *acc;
  void reserve(int64_t acc_rows) {
    const size_t need = static_cast<size_t>(2 * kKc * kNr + kMr * kNr + acc_rows * kNr + 16);
    if (buf.size() < need) buf.resize(need);
    const auto base = reinterpret_cast<uintptr_t>(buf.data());
    wp = buf.data() + ((64 - base % 64) % 64) / sizeof(float);
    c = wp + kKc * kNr;
    acc = c + kMr * kNr;
  }
};

// Everything here runs only where the kernel level has the 6 x 64 block, i.e. AVX-512.
#define OMNI_AVX512 __attribute__((target("avx512f")))

// dst[0, n) = sum_i sign_i * src_i[0, n), n a multiple of 16; F16 sources widened exactly.
OMNI_AVX512 void combine(bool f16, const void* const* src, const float* sign, int nt, int64_t n,
                         float* dst) {
  for (int64_t j = 0; j < n; j += 16) {
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < nt; ++i) {
      const __m512 v = f16 ? _mm512_maskz_cvtph_ps(__mmask16(0xffff), _mm256_loadu_si256(
                                 reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(src[i]) + j)))
                           : _mm512_loadu_ps(static_cast<const float*>(src[i]) + j);
      acc = sign[i] > 0 ? _mm512_add_ps(acc, v) : _mm512_sub_ps(acc, v);
    }
    _mm512_store_ps(dst + j, acc);
  }
}

// Adds rows [row0, row0 + nrows) of leaf panel p (src: nrows x 64, contiguous) into every
// destination: one contiguous run each, so the adds stream.
OMNI_AVX512 void add_out(const Product& pr, int64_t p, int64_t row0, int64_t nrows,
                         const float* src) {
  for (int i = 0; i < pr.nd; ++i) {
    const Dest& d = pr.d[i];
    const int64_t re = std::min(row0 + nrows, d.rows);
    if (re <= row0) continue;
    float* y = pr.cp + ((d.p0 + p) * pr.M + d.r0 + row0) * kNr;
    const int64_t n = (re - row0) * kNr;
    if (d.sign > 0) {
      for (int64_t j = 0; j < n; j += 16) {
        _mm512_storeu_ps(y + j, _mm512_add_ps(_mm512_loadu_ps(y + j), _mm512_loadu_ps(src + j)));
      }
    } else {
      for (int64_t j = 0; j < n; j += 16) {
        _mm512_storeu_ps(y + j, _mm512_sub_ps(_mm512_loadu_ps(y + j), _mm512_loadu_ps(src + j)));
      }
    }
  }
}

// The product of sum(terms) (npan panels, K inputs) with A (m rows,
// stride as), added into every destination.
void leaf(const PackedWeights& w, const Product& pr, int64_t npan, int64_t K,
          const float* A, int64_t as, int64_t m, ThreadPool& pool) {
  const kernels::KernelTable& kt = kernels::active();
  // Work items are (panel, row chunk): rows are split only when the panels do not divide
  // evenly over the threads (each chunk converts the weight panels again). Rows are
  // independent and the k order is fixed, so the split does not change results.
  const int64_t T = pool.size();
  int64_t chunks = npan % T == 0 ? 1 : std::min((m + 47) / 48, (2 * T + npan - 1) / npan);
  chunks = std::max<int64_t>(1, chunks);
  int64_t chunk_rows = (m + chunks - 1) / chunks;
  chunk_rows = (chunk_rows + kMr - 1) / kMr * kMr;
  chunks = (m + chunk_rows - 1) / chunk_rows;
  const bool one_kblock = K <= kKc;
  const size_t es = elem_size(w.type());
  const bool f16 = w.type() == DType::F16;
  pool.parallel_for(npan * chunks, [&](int64_t b, int64_t e) {
    thread_local Scratch s;
    s.reserve(one_kblock ? 0 : chunk_rows);
    for (int64_t item = b; item < e; ++item) {
      const int64_t p = item / chunks, r0 = (item % chunks) * chunk_rows;
      const int64_t r1 = std::min(m, r0 + chunk_rows);
      for (int64_t k0 = 0; k0 < K; k0 += kKc) {
        const int64_t kc = std::min(kKc, K - k0);
        const int64_t n = kNr * kc;
        const void* src[kMaxTerms];
        float sign[kMaxTerms];
        for (int i = 0; i < pr.nt; ++i) {
          src[i] = static_cast<const uint8_t*>(w.panel(pr.t[i].panel + p)) +
                   static_cast<size_t>(kNr * (pr.t[i].k0 + k0)) * es;
          sign[i] = pr.t[i].sign;
        }
        const float* wp = s.wp;
        if (!f16 && pr.nt == 1 && sign[0] > 0) {
          wp = static_cast<const float*>(src[0]);  // the pack itself
        } else {
          combine(f16, src, sign, pr.nt, n, s.wp);
        }
        const bool first = k0 == 0;
        for (int64_t a0 = r0; a0 < r1; a0 += kMr) {
          const int64_t ma = std::min(kMr, r1 - a0);
          kt.gemm6x64_f32(wp, kc, A + a0 * as + k0, as, ma, s.c);
          if (one_kblock) {
            add_out(pr, p, a0, ma, s.c);
            continue;
          }
          float* acc = s.acc + (a0 - r0) * kNr;
          if (first) {
            std::memcpy(acc, s.c, static_cast<size_t>(ma * kNr) * sizeof(float));
          } else {
            for (int64_t j = 0; j < ma * kNr; ++j) acc[j] += s.c[j];
          }
        }
      }
      if (!one_kblock) add_out(pr, p, r0, r1 - r0, s.acc);
    }
  }, 1);
}

// Strassen's seven products for C = A B with B = W^T: per product, the A blocks (row half i,
// input half k), the B blocks (input half k, output half j) and the C blocks (i, j) it adds to.
struct Combo {
  int n;
  int a[2], b[2];
  float s[2];
};
struct StrassenStep {
  Combo A, B, C;
};
constexpr StrassenStep kSteps[7] = {
    {{2, {0, 1}, {0, 1}, {1, 1}}, {2, {0, 1}, {0, 1}, {1, 1}}, {2, {0, 1}, {0, 1}, {1, 1}}},
    {{2, {1, 1}, {0, 1}, {1, 1}}, {1, {0}, {0}, {1}}, {2, {1, 1}, {0, 1}, {1, -1}}},
    {{1, {0}, {0}, {1}}, {2, {0, 1}, {1, 1}, {1, -1}}, {2, {0, 1}, {1, 1}, {1, 1}}},
    {{1, {1}, {1}, {1}}, {2, {1, 0}, {0, 0}, {1, -1}}, {2, {0, 1}, {0, 0}, {1, 1}}},
    {{2, {0, 0}, {0, 1}, {1, 1}}, {1, {1}, {1}, {1}}, {2, {0, 0}, {0, 1}, {-1, 1}}},
    {{2, {1, 0}, {0, 0}, {1, -1}}, {2, {0, 0}, {0, 1}, {1, 1}}, {1, {1}, {1}, {1}}},
    {{2, {0, 1}, {1, 1}, {1, -1}}, {2, {1, 1}, {0, 1}, {1, 1}}, {1, {0}, {0}, {1}}},
};

void strassen(int level, const PackedWeights& w, const Product& pr, int64_t npan,
              int64_t K, const float* A, int64_t as, int64_t m, ThreadPool& pool) {
  if (level == 0) {
    leaf(w, pr, npan, K, A, as, m, pool);
    return;
  }
  const int64_t mh = (m + 1) / 2, K2 = K / 2, np2 = npan / 2;
  std::vector<float> T(static_cast<size_t>(mh * K2));
  for (const StrassenStep& st : kSteps) {
    // A operand: a single block is used in place (with its valid rows only: a missing last row
    // of the lower half adds nothing); a sum is formed in T, rows past m (odd m) zero.
    const float* a_op = T.data();
    int64_t a_stride = K2, a_rows = mh;
    if (st.A.n == 1 && st.A.s[0] > 0) {
      a_op = A + st.A.a[0] * mh * as + st.A.b[0] * K2;
      a_stride = as;
      a_rows = st.A.a[0] == 0 ? mh : m - mh;
    } else {
      pool.parallel_for(mh, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        float* t = T.data() + r * K2;
        for (int i = 0; i < st.A.n; ++i) {
          const int64_t src_row = st.A.a[i] * mh + r;
          const float s = st.A.s[i];
          if (src_row >= m) {
            if (i == 0) std::fill(t, t + K2, 0.0f);
            continue;
          }
          const float* x = A + src_row * as + st.A.b[i] * K2;
          if (i == 0) {
            if (s > 0) {
              std::memcpy(t, x, static_cast<size_t>(K2) * sizeof(float));
            } else {
              for (int64_t j = 0; j < K2; ++j) t[j] = -x[j];
            }
          } else if (s > 0) {
            for (int64_t j = 0; j < K2; ++j) t[j] += x[j];
          } else {
            for (int64_t j = 0; j < K2; ++j) t[j] -= x[j];
          }
        }
      }
      }, 16);
    }
    Product sub;
    sub.cp = pr.cp;
    sub.M = pr.M;
    for (int i = 0; i < pr.nt; ++i) {
      for (int j = 0; j < st.B.n; ++j) {
        // B block (input half k, output half j) = W rows half j, columns half k.
        const WTerm& t = pr.t[i];
        sub.t[sub.nt++] = {t.panel + st.B.b[j] * np2, t.k0 + st.B.a[j] * K2, t.sign * st.B.s[j]};
      }
    }
    for (int i = 0; i < pr.nd; ++i) {
      for (int j = 0; j < st.C.n; ++j) {
        const Dest& d = pr.d[i];
        const int64_t ri = st.C.a[j];
        const int64_t rows = ri == 0 ? std::min(d.rows, mh) : std::max<int64_t>(0, d.rows - mh);
        if (rows == 0) continue;
        sub.d[sub.nd++] = {d.p0 + st.C.b[j] * np2, d.r0 + ri * mh, rows, d.sign * st.C.s[j]};
      }
    }
    if (a_rows > 0) strassen(level - 1, w, sub, np2, K2, a_op, a_stride, a_rows, pool);
  }
}

struct AlignedDelete {
  void operator()(void* p) const { ::operator delete[](p, std::align_val_t{64}); }
};

template <typename E>
void pack_panels(const E* w, int64_t rows, int64_t cols, E* out, ThreadPool& pool) {
  const int64_t panels = (rows + kNr - 1) / kNr;
  pool.parallel_for(panels, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      E* dst = out + p * kNr * cols;
      const int64_t nr = std::min(kNr, rows - p * kNr);
      const E* src = w + p * kNr * cols;
      for (int64_t kk = 0; kk < cols; ++kk) {
        E* d = dst + kNr * kk;
        for (int64_t r = 0; r < nr; ++r) d[r] = src[r * cols + kk];
        for (int64_t r = nr; r < kNr; ++r) d[r] = E{};
      }
    }
  });
}

}  // namespace

PackedWeights::PackedWeights(DType type, const void* w, int64_t rows, int64_t cols,
                             ThreadPool* pool_arg)
    : type_(type), rows_(rows), cols_(cols) {
  if (type != DType::F32 && type != DType::F16) {
    throw Error("PackedWeights: weight type " + std::string(dtype_name(type)) +
                " cannot be packed (F32 or F16)");
  }
  if (rows <= 0 || cols <= 0) throw Error("PackedWeights: empty matrix");
  ThreadPool& pool = pool_arg ? *pool_arg : ThreadPool::global();
  const size_t n = static_cast<size_t>(panels() * kNr * cols);
  data_.reset(::operator new[](n * elem_size(type), std::align_val_t{64}), AlignedDelete{});
  if (type == DType::F16) {
    pack_panels(static_cast<const uint16_t*>(w), rows, cols, static_cast<uint16_t*>(data_.get()),
                pool);
  } else {
    pack_panels(static_cast<const float*>(w), rows, cols, static_cast<float*>(data_.get()), pool);
  }
}

const void* PackedWeights::panel(int64_t p) const {
  return static_cast<const uint8_t*>(data_.get()) +
         static_cast<size_t>(p * kNr * cols_) * elem_size(type_);
}

size_t PackedWeights::bytes() const {
  return static_cast<size_t>(panels() * kNr * cols_) * elem_size(type_);
}

int strassen_levels(const PackedWeights& w, int64_t m, const StrassenConfig& cfg) {
  int L = 0;
  while (L < cfg.max_levels) {
    const int64_t f = int64_t{2} << L;  // the split factor of level L + 1
    if (w.rows() % (kNr * f) != 0 || w.cols() % f != 0) break;
    if (m / f < cfg.min_m || w.cols() / f < cfg.min_k) break;
    ++L;
  }
  return L;
}

void gemm(const PackedWeights& w, const float* x, int64_t m, const float* bias, bool accumulate,
          float* y, const StrassenConfig& cfg, ThreadPool& pool) {
  if (m <= 0) return;
  if (kernels::active().gemm6x64_f32 == nullptr) {
    throw Error("vision gemm: this CPU level has no packed GEMM block");
  }
  const int64_t N = w.rows(), np = w.panels();
  // The products accumulate panel-major (each panel's rows contiguous), so every add of a
  // sub-product is one stream; y's rows are a power of two apart and thrash the cache sets.
  thread_local std::vector<float> cbuf;
  cbuf.resize(static_cast<size_t>(np * m * kNr + 16));
  float* cp = cbuf.data();
  pool.parallel_for(np, [&](int64_t b, int64_t e) {
    std::fill(cp + b * m * kNr, cp + e * m * kNr, 0.0f);
  });
  Product pr;
  pr.cp = cp;
  pr.M = m;
  pr.t[pr.nt++] = {0, 0, 1.0f};
  pr.d[pr.nd++] = {0, 0, m, 1.0f};
  strassen(strassen_levels(w, m, cfg), w, pr, np, w.cols(), x, w.cols(), m, pool);
  pool.parallel_for(m, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* yr = y + r * N;
      for (int64_t p = 0; p < np; ++p) {
        const float* c = cp + (p * m + r) * kNr;
        const int64_t c0 = p * kNr, nc = std::min(kNr, N - c0);
        for (int64_t j = 0; j < nc; ++j) {
          const float base = accumulate ? yr[c0 + j] : 0.0f;
          yr[c0 + j] = bias ? base + bias[c0 + j] + c[j] : base + c[j];
        }
      }
    }
  }, 16);
}

}  // namespace omni::vision
