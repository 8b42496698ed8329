#include "vision/packed_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "core/error.h"
#include "core/kernels.h"
#include "core/thread_pool.h"
#include "vision/gelu_table.h"

namespace omni::vision {
namespace {

constexpr int64_t kNr = 64;   // weight rows per panel (the GEMM tile's width)
constexpr int64_t kMr = 6;    // activation rows per GEMM tile
constexpr int64_t kKc = 512;  // inputs per k-block (a 128 KiB float panel, stays in L2)
constexpr int kMaxLevels = 2;
constexpr int64_t kStreamBytes = int64_t{4} << 20;  // outputs from this size on bypass caches
constexpr int kMaxTerms = 1 << kMaxLevels;  // operand / destination terms of one product

size_t elem_size(DType t) { return t == DType::F16 ? 2 : 4; }

// One block term of a leaf product at the leaf block size (2^L x 2^L blocks): A terms are
// (row block, input block), W terms (input block, output block), destinations (row block,
// output block).
struct Term {
  int i, j;
  float sign;
};

// One leaf product: (sum of A terms) (sum of W^T terms), added into every destination.
struct Leaf {
  int na = 0, nw = 0, nd = 0;
  Term a[kMaxTerms], w[kMaxTerms], d[kMaxTerms];
};

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

// The 7^level leaf products of C = A W^T. A block of a sum of blocks is the sum of the
// sub-blocks, so each level splits every term's block into its quadrants.
void expand(int level, const Leaf& p, std::vector<Leaf>& out) {
  if (level == 0) {
    out.push_back(p);
    return;
  }
  auto split = [](const Term* ts, int n, const Combo& c, Term* dst, int& nd) {
    for (int t = 0; t < n; ++t) {
      for (int x = 0; x < c.n; ++x) {
        dst[nd++] = {2 * ts[t].i + c.a[x], 2 * ts[t].j + c.b[x], ts[t].sign * c.s[x]};
      }
    }
  };
  for (const StrassenStep& st : kSteps) {
    Leaf c;
    split(p.a, p.na, st.A, c.a, c.na);
    split(p.w, p.nw, st.B, c.w, c.nw);
    split(p.d, p.nd, st.C, c.d, c.nd);
    expand(level - 1, c, out);
  }
}

// Everything here runs only where the kernel level has the 6 x 64 block, i.e. AVX-512.
#define OMNI_AVX512 __attribute__((target("avx512f")))

// One F16 term of combine_n: 16 values widened, the sign applied by `neg`.
OMNI_AVX512 inline __m512 half_term(const uint16_t* p, int32_t neg) {
  const __m512 v = _mm512_maskz_cvtph_ps(__mmask16(0xffff),
                                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), _mm512_set1_epi32(neg)));
}

// dst[j0, j1) = 0 + sum_i sign_i * src_i[j0, j1) over NT sources, j0 and j1 multiples of 16; F16
// sources widened exactly. A negative term is added negated (x - v and x + (-v) are the same
// IEEE operation), so the loop has no branch per term. Each element gets the same additions
// whatever the range, so a panel built in slices has the same bits as one built at once.
template <int NT, bool F16>
OMNI_AVX512 void combine_n(const void* const* src, const float* sign, int64_t j0, int64_t j1,
                           float* dst) {
  int32_t neg[NT];
  for (int i = 0; i < NT; ++i) neg[i] = sign[i] > 0 ? 0 : INT32_MIN;
  for (int64_t j = j0; j < j1; j += 16) {
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < NT; ++i) {
      if constexpr (F16) {
        acc = _mm512_add_ps(acc, half_term(static_cast<const uint16_t*>(src[i]) + j, neg[i]));
      } else {
        const __m512i v =
            _mm512_castps_si512(_mm512_loadu_ps(static_cast<const float*>(src[i]) + j));
        acc = _mm512_add_ps(
            acc, _mm512_castsi512_ps(_mm512_xor_si512(v, _mm512_set1_epi32(neg[i]))));
      }
    }
    _mm512_store_ps(dst + j, acc);
  }
}

template <bool F16>
OMNI_AVX512 void combine_t(const void* const* src, const float* sign, int nt, int64_t j0,
                           int64_t j1, float* dst) {
  switch (nt) {
    case 1: combine_n<1, F16>(src, sign, j0, j1, dst); break;
    case 2: combine_n<2, F16>(src, sign, j0, j1, dst); break;
    case 3: combine_n<3, F16>(src, sign, j0, j1, dst); break;
    default: combine_n<4, F16>(src, sign, j0, j1, dst); break;
  }
}

OMNI_AVX512 void combine(bool f16, const void* const* src, const float* sign, int nt, int64_t j0,
                         int64_t j1, float* dst) {
  if (f16) {
    combine_t<true>(src, sign, nt, j0, j1, dst);
  } else {
    combine_t<false>(src, sign, nt, j0, j1, dst);
  }
}

// dst[0, n) = 0 + sum_i sign_i * src_i[0, n) over float rows, any n (the same additions, in the
// same order, as a scalar loop starting from zero; the library's generic build would run that
// loop 4 lanes wide).
OMNI_AVX512 void sum_rows(const float* const* src, const float* sign, int nt, int64_t n,
                          float* dst) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1);
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < nt; ++i) {
      const __m512 v = _mm512_maskz_loadu_ps(k, src[i] + j);
      acc = sign[i] > 0 ? _mm512_add_ps(acc, v) : _mm512_sub_ps(acc, v);
    }
    _mm512_mask_storeu_ps(dst + j, k, acc);
  }
}

// StrassenSums' five blocks as leaf A terms, in the order gemm() meets the summed leaves of a
// one-level product (checked there against expand()).
constexpr Term kSumTerms[StrassenSums::kCount][2] = {
    {{0, 0, 1}, {1, 1, 1}}, {{1, 0, 1}, {1, 1, 1}}, {{0, 0, 1}, {0, 1, 1}},
    {{1, 0, 1}, {0, 0, -1}}, {{0, 1, 1}, {1, 1, -1}},
};

// Where a tile's finished sums go: `n` output blocks (rows 64 floats apart), each += sign * sum;
// a block marked `first` is not read: it gets 0 + sign * sum (the same bits as adding into a
// zeroed block, without the zero fill).
struct Dests {
  int n = 0;
  float* p[kMaxTerms];
  float sign[kMaxTerms];
  bool first[kMaxTerms];
};

// combine() of the next F16 weight panel run as a side job of the current panel's 6-row tiles:
// one 16-float vector every `step` inputs of the k loop. A zmm FMA takes both FMA pipes on
// Zen 4, so the tile leaves the FADD pipes, the F16 conversion and most load slots idle; built
// there instead of alone between panels (stalling on its source bytes), the GEMM took 1-2 %
// less CPU time. Two-level panels (up to 4 terms, k-blocks of 256 inputs) need a vector every
// 4 inputs to fit in the tiles; one-level ones keep every 8 (every 4 measured slower there).
// [j, end): the floats still to build.
struct Side {
  const uint16_t* src[kMaxTerms];
  int32_t neg[kMaxTerms];  // sign masks: 0 adds the term, INT32_MIN subtracts it (see combine_n)
  int nt = 0;
  int64_t mask = 7, slot = 4;  // a vector at the inputs kk with (kk & mask) == slot
  float* dst = nullptr;
  int64_t j = 0, end = 0;
};
constexpr int64_t kSideStep = 8;  // the widest step (fewest side vectors per tile)

// M x 64 tile of x (M rows, stride xs) times the float panel wp (64 * kk + r), over kc inputs,
// one FMA chain per output and k-block; with `load` the sums of the earlier k-blocks (part,
// M x 64) are added first (blocked summation: more accurate than one long chain). The result
// goes to part when dst is null, else is added with signs into every destination (offset off).
// M = 6 tiles also advance `side` (may be null).
template <int M>
OMNI_AVX512 void tile(const float* wp, int64_t kc, const float* x, int64_t xs, float* part,
                      bool load, const Dests* dst, int64_t off, const float* next, Side* side) {
  int64_t sj = side ? side->j : 0;
  const int64_t se = side ? side->end : 0;
  const int64_t side_mask = side ? side->mask : 0, side_slot = side ? side->slot : 1;
  __m512 acc[M][4];
  for (int a = 0; a < M; ++a) {
    for (int j = 0; j < 4; ++j) acc[a][j] = _mm512_setzero_ps();
  }
  const float* xr[M];
  for (int a = 0; a < M; ++a) xr[a] = x + a * xs;
  for (int64_t kk = 0; kk < kc; ++kk) {
    // The next tile's activation rows (often DRAM: the Strassen operands outgrow L3) stream
    // in behind this one's FMAs, one line per row every 16 inputs.
    if ((kk & 15) == 0) {
      for (int a = 0; a < kMr; ++a) {
        _mm_prefetch(reinterpret_cast<const char*>(next + a * xs + kk), _MM_HINT_T0);
      }
    }
    if constexpr (M == kMr) {
      if ((kk & side_mask) == side_slot && sj < se) {
        __m512 v = _mm512_add_ps(_mm512_setzero_ps(), half_term(side->src[0] + sj, side->neg[0]));
        for (int i = 1; i < side->nt; ++i) {
          v = _mm512_add_ps(v, half_term(side->src[i] + sj, side->neg[i]));
        }
        _mm512_store_ps(side->dst + sj, v);
        sj += 16;
      }
    }
    const float* w = wp + 64 * kk;
    const __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
    const __m512 w2 = _mm512_load_ps(w + 32), w3 = _mm512_load_ps(w + 48);
    for (int a = 0; a < M; ++a) {
      const __m512 xa = _mm512_set1_ps(xr[a][kk]);
      acc[a][0] = _mm512_fmadd_ps(w0, xa, acc[a][0]);
      acc[a][1] = _mm512_fmadd_ps(w1, xa, acc[a][1]);
      acc[a][2] = _mm512_fmadd_ps(w2, xa, acc[a][2]);
      acc[a][3] = _mm512_fmadd_ps(w3, xa, acc[a][3]);
    }
  }
  if (side) side->j = sj;
  if (load) {
    for (int a = 0; a < M; ++a) {
      for (int j = 0; j < 4; ++j) {
        acc[a][j] = _mm512_add_ps(_mm512_loadu_ps(part + 64 * a + 16 * j), acc[a][j]);
      }
    }
  }
  if (dst == nullptr) {
    for (int a = 0; a < M; ++a) {
      for (int j = 0; j < 4; ++j) _mm512_storeu_ps(part + 64 * a + 16 * j, acc[a][j]);
    }
    return;
  }
  for (int i = 0; i < dst->n; ++i) {
    float* y = dst->p[i] + off;
    if (dst->first[i]) {
      const __m512 z = _mm512_setzero_ps();
      for (int a = 0; a < M; ++a) {
        for (int j = 0; j < 4; ++j) {
          const __m512 v = dst->sign[i] > 0 ? _mm512_add_ps(z, acc[a][j])
                                            : _mm512_sub_ps(z, acc[a][j]);
          _mm512_storeu_ps(y + 64 * a + 16 * j, v);
        }
      }
    } else if (dst->sign[i] > 0) {
      for (int a = 0; a < M; ++a) {
        for (int j = 0; j < 4; ++j) {
          float* q = y + 64 * a + 16 * j;
          _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), acc[a][j]));
        }
      }
    } else {
      for (int a = 0; a < M; ++a) {
        for (int j = 0; j < 4; ++j) {
          float* q = y + 64 * a + 16 * j;
          _mm512_storeu_ps(q, _mm512_sub_ps(_mm512_loadu_ps(q), acc[a][j]));
        }
      }
    }
  }
}

OMNI_AVX512 void run_tile(int64_t m, const float* wp, int64_t kc, const float* x, int64_t xs,
                          float* part, bool load, const Dests* dst, int64_t off,
                          const float* next, Side* side) {
  switch (m) {
    case 1: tile<1>(wp, kc, x, xs, part, load, dst, off, next, nullptr); break;
    case 2: tile<2>(wp, kc, x, xs, part, load, dst, off, next, nullptr); break;
    case 3: tile<3>(wp, kc, x, xs, part, load, dst, off, next, nullptr); break;
    case 4: tile<4>(wp, kc, x, xs, part, load, dst, off, next, nullptr); break;
    case 5: tile<5>(wp, kc, x, xs, part, load, dst, off, next, nullptr); break;
    default: tile<6>(wp, kc, x, xs, part, load, dst, off, next, side); break;
  }
}

// y[0, n) = (y or 0) + (bias or 0) + c, n <= 64, in that order of additions.
OMNI_AVX512 void store_row(const float* c, const float* bias, bool accumulate, int64_t n,
                           float* y) {
  for (int64_t q = 0; q < n; q += 16) {
    const __mmask16 k = n - q >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - q)) - 1);
    __m512 v = accumulate ? _mm512_maskz_loadu_ps(k, y + q) : _mm512_setzero_ps();
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + q));
    _mm512_mask_storeu_ps(y + q, k, _mm512_add_ps(v, _mm512_loadu_ps(c + q)));
  }
}

// c[0, 64) = 0 + (bias or 0) + c: store_row's additions for a row without a base.
OMNI_AVX512 void finish_row(const float* c, const float* bias, float* out) {
  for (int q = 0; q < 64; q += 16) {
    __m512 v = _mm512_setzero_ps();
    if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + q));
    _mm512_storeu_ps(out + q, _mm512_add_ps(v, _mm512_loadu_ps(c + q)));
  }
}

OMNI_AVX512 void stream_row(const float* c, float* y) {
  for (int q = 0; q < 64; q += 16) _mm512_stream_ps(y + q, _mm512_loadu_ps(c + q));
}

// Pulls the weight bytes of a coming panel towards L2 while the current one is multiplied (the
// panel after next when the tiles build the next one): a few lines per tile, so the DRAM stream
// overlaps the FMAs instead of stalling the build.
// The walk is a (source, offset) cursor: no division per line (a 64-bit idiv per line was ~5 %
// of a two-level product).
struct Prefetcher {
  const void* src[kMaxTerms];
  int n = 0;
  int64_t bytes = 0, per_call = 0;
  int cur = 0;
  int64_t off = 0;
  void start(int tiles) {
    cur = 0;
    off = 0;
    per_call = n == 0 ? 0 : (n * bytes / 64 + tiles - 1) / std::max(1, tiles);
  }
  void step() {
    for (int64_t i = 0; i < per_call && cur < n; ++i) {
      _mm_prefetch(static_cast<const char*>(src[cur]) + off, _MM_HINT_T1);
      off += 64;
      if (off >= bytes) {
        off = 0;
        ++cur;
      }
    }
  }
};

// The float weight panel of one (leaf, k-block): the signed sum of the leaf's packed weight
// k-blocks, or the pack itself (an F32 leaf with one positive term: nothing to build).
struct Panel {
  const void* src[kMaxTerms];
  float sign[kMaxTerms];
  int nt = 0;
  int64_t n = 0;  // floats: 64 per input
  const float* direct = nullptr;
};

// Per-thread buffers: two float weight panels (the current one and the next, being built), the
// partial sums of one product over k-blocks and the output slab of one work item (all
// 2^L x 2^L blocks of its panel and rows), 64-byte aligned.
struct Scratch {
  std::vector<float> buf;
  float *wp[2], *part, *slab;
  void reserve(int64_t part_floats, int64_t slab_floats) {
    const size_t need = static_cast<size_t>(2 * kKc * kNr + part_floats + slab_floats + 16);
    if (buf.size() < need) buf.resize(need);
    const auto base = reinterpret_cast<uintptr_t>(buf.data());
    wp[0] = buf.data() + ((64 - base % 64) % 64) / sizeof(float);
    wp[1] = wp[0] + kKc * kNr;
    part = wp[1] + kKc * kNr;
    slab = part + part_floats;
  }
};

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

StrassenSums StrassenSums::layout(int64_t m, int64_t k) {
  StrassenSums s;
  s.rows = (m + 1) / 2;
  s.cols = k / 2;
  s.stride = s.cols + 16;
  return s;
}

// sum_rows' additions (0 + first +- second, a missing second-half row adding nothing), all five
// blocks from one read of the four quadrant rows.
OMNI_AVX512 void StrassenSums::put(int64_t r, int64_t c0, int64_t n, const float* a11,
                                   const float* a12, const float* a21, const float* a22) const {
  float* d0 = block(0) + r * stride + c0;
  float* d1 = block(1) + r * stride + c0;
  float* d2 = block(2) + r * stride + c0;
  float* d3 = block(3) + r * stride + c0;
  float* d4 = block(4) + r * stride + c0;
  const __m512 z = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = n - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1);
    const __m512 v11 = _mm512_add_ps(z, _mm512_maskz_loadu_ps(k, a11 + j));
    const __m512 v12 = _mm512_add_ps(z, _mm512_maskz_loadu_ps(k, a12 + j));
    if (a21 != nullptr) {
      const __m512 v21 = _mm512_add_ps(z, _mm512_maskz_loadu_ps(k, a21 + j));
      const __m512 x22 = _mm512_maskz_loadu_ps(k, a22 + j);
      _mm512_mask_storeu_ps(d0 + j, k, _mm512_add_ps(v11, x22));
      _mm512_mask_storeu_ps(d1 + j, k, _mm512_add_ps(v21, x22));
      _mm512_mask_storeu_ps(d3 + j, k, _mm512_sub_ps(v21, _mm512_maskz_loadu_ps(k, a11 + j)));
      _mm512_mask_storeu_ps(d4 + j, k, _mm512_sub_ps(v12, x22));
    } else {
      _mm512_mask_storeu_ps(d0 + j, k, v11);
      _mm512_mask_storeu_ps(d1 + j, k, z);
      _mm512_mask_storeu_ps(d3 + j, k, _mm512_sub_ps(z, _mm512_maskz_loadu_ps(k, a11 + j)));
      _mm512_mask_storeu_ps(d4 + j, k, v12);
    }
    _mm512_mask_storeu_ps(d2 + j, k, _mm512_add_ps(v11, _mm512_maskz_loadu_ps(k, a12 + j)));
  }
}

int strassen_levels(const PackedWeights& w, int64_t m, const StrassenConfig& cfg) {
  int L = 0;
  while (L < cfg.max_levels) {
    const int64_t f = int64_t{2} << L;  // the split factor of level L + 1
    if (w.rows() % (kNr * f) != 0 || w.cols() % f != 0) break;
    if (m / f < cfg.min_m || w.cols() / f < cfg.min_k) break;
    if (L == 1 && (w.cols() / f < cfg.min_k2 || w.rows() / f < cfg.min_k2)) break;
    ++L;
  }
  return L;
}

void gemm(const PackedWeights& w, const float* x, int64_t m, const float* bias, bool accumulate,
          float* y, const StrassenConfig& cfg, ThreadPool& pool, Activation act,
          const GemmSums& given) {
  if (m <= 0) return;
  if (kernels::active().gemm6x64_f32 == nullptr) {
    throw Error("vision gemm: this CPU level has no packed GEMM block");
  }
  const int L = std::min(strassen_levels(w, m, cfg), kMaxLevels);
  auto check_sums = [&](const StrassenSums* ss, int64_t k, const char* what) {
    const StrassenSums want = StrassenSums::layout(m, k);
    if (L != 1 || ss->rows != want.rows || ss->cols != want.cols || ss->stride < ss->cols) {
      throw Error(std::string("vision gemm: ") + what +
                  " Strassen sums need a one-level product of their shape");
    }
  };
  if (given.x) check_sums(given.x, w.cols(), "x");
  if (given.y) check_sums(given.y, w.rows(), "y");
  if (given.y_diagonal_only && (given.y == nullptr || accumulate)) {
    throw Error("vision gemm: y_diagonal_only needs y's sums and a fresh output");
  }
  const int nb = 1 << L;  // blocks per dimension
  const int64_t N = w.rows(), K = w.cols();
  const int64_t mb = (m + nb - 1) / nb;  // rows per row block (the last one may be short)
  const int64_t kb = K / nb;             // inputs per input block
  const int64_t npb = w.panels() / nb;   // panels per output block

  std::vector<Leaf> leaves;
  Leaf root;
  root.a[root.na++] = {0, 0, 1.0f};
  root.w[root.nw++] = {0, 0, 1.0f};
  root.d[root.nd++] = {0, 0, 1.0f};
  expand(L, root, leaves);
  const int nl = static_cast<int>(leaves.size());

  // A operand per leaf: one block used in place, or a sum materialized (rows past m are zero).
  struct Operand {
    const float* p;
    int64_t stride, rows;  // rows: how many leading rows can be non-zero
  };
  std::vector<Operand> ops(static_cast<size_t>(nl));
  // Row stride of the materialized sums: one cache line more than the power of two, so a
  // tile's rows do not all land in the same L1 set.
  const int64_t ts = kb + 16;
  std::vector<int> sums;
  for (int l = 0; l < nl; ++l) {
    const Leaf& lf = leaves[static_cast<size_t>(l)];
    int64_t rows = 0;
    for (int t = 0; t < lf.na; ++t) {
      rows = std::max(rows, std::clamp<int64_t>(m - lf.a[t].i * mb, 0, mb));
    }
    if (lf.na == 1 && lf.a[0].sign > 0) {
      ops[static_cast<size_t>(l)] = {x + lf.a[0].i * mb * K + lf.a[0].j * kb, K, rows};
    } else {
      ops[static_cast<size_t>(l)] = {nullptr, ts, rows};
      sums.push_back(l);
    }
  }
  if (given.x) {
    if (sums.size() != StrassenSums::kCount) {
      throw Error("vision gemm: unexpected Strassen leaves");
    }
    for (size_t s = 0; s < sums.size(); ++s) {
      const Leaf& lf = leaves[static_cast<size_t>(sums[s])];
      const Term* want = kSumTerms[s];
      for (int t = 0; t < 2; ++t) {
        if (lf.na != 2 || lf.a[t].i != want[t].i || lf.a[t].j != want[t].j ||
            lf.a[t].sign != want[t].sign) {
          throw Error("vision gemm: Strassen leaves out of StrassenSums' order");
        }
      }
      ops[static_cast<size_t>(sums[s])].p = given.x->block(static_cast<int>(s));
      ops[static_cast<size_t>(sums[s])].stride = given.x->stride;
    }
    sums.clear();  // nothing left to form
  }
  // Grown, never value-initialized: every row of every sum is written below (zeros past m), and
  // a std::vector's resize zero-filled the difference each time a larger product followed a
  // smaller one (~0.6 % of a two-level encode in memset).
  thread_local std::unique_ptr<float[]> tbuf;
  thread_local size_t tcap = 0;
  const size_t tneed = sums.size() * static_cast<size_t>(mb * ts);
  if (tneed > tcap) {
    tbuf.reset(new float[tneed]);
    tcap = tneed;
  }
  float* const tb = tbuf.get();  // the workers have their own thread_local copies
  for (size_t s = 0; s < sums.size(); ++s) {
    ops[static_cast<size_t>(sums[s])].p = tb + s * static_cast<size_t>(mb * ts);
  }
  const int64_t sum_items = static_cast<int64_t>(sums.size()) * mb;
  if (sum_items > 0) pool.parallel_for(sum_items, [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      const Leaf& lf = leaves[static_cast<size_t>(sums[static_cast<size_t>(item / mb)])];
      const int64_t r = item % mb;
      const float* src[kMaxTerms];
      float sign[kMaxTerms];
      int nt = 0;
      for (int i = 0; i < lf.na; ++i) {
        const int64_t src_row = lf.a[i].i * mb + r;
        if (src_row >= m) continue;
        src[nt] = x + src_row * K + lf.a[i].j * kb;
        sign[nt++] = lf.a[i].sign;
      }
      sum_rows(src, sign, nt, kb, tb + item * ts);
    }
  }, 16);

  // Work items are (panel j of every output block, row chunk): all leaves of an item add into
  // one slab that stays in cache, then the slab goes to y once. Rows are split only when the
  // panels do not divide evenly over the threads; rows are independent and the k order is
  // fixed, so results do not depend on the split.
  const int64_t T = pool.size();
  int64_t chunks = npb % T == 0 ? 1 : std::min((mb + 47) / 48, (2 * T + npb - 1) / npb);
  chunks = std::max<int64_t>(1, chunks);
  int64_t crows = (mb + chunks - 1) / chunks;
  crows = (crows + kMr - 1) / kMr * kMr;
  chunks = (mb + crows - 1) / crows;
  const size_t es = elem_size(w.type());
  const bool f16 = w.type() == DType::F16;
  const bool one_kblock = kb <= kKc;
  const int64_t slab_blocks = int64_t{nb} * nb;
  // Large fresh outputs (QKV, fc1, mm.0: 7-13 MB) are streamed to y: their lines are not read
  // for ownership first, which measured 2-6 % less encode CPU time (interleaved, under load).
  // Accumulated outputs (the residual stream) are read anyway and stay cached.
  const bool stream = !accumulate && m * N * int64_t{sizeof(float)} >= kStreamBytes;
  // first[l][i]: leaf l is the first (in leaf order) to add into its i-th destination block.
  std::vector<std::array<bool, kMaxTerms>> first(static_cast<size_t>(nl));
  {
    std::vector<bool> seen(static_cast<size_t>(slab_blocks), false);
    for (int l = 0; l < nl; ++l) {
      const Leaf& lf = leaves[static_cast<size_t>(l)];
      for (int i = 0; i < lf.nd; ++i) {
        const size_t blk = static_cast<size_t>(lf.d[i].j * nb + lf.d[i].i);
        first[static_cast<size_t>(l)][static_cast<size_t>(i)] = !seen[blk];
        seen[blk] = true;
      }
    }
  }
  pool.parallel_for(npb * chunks, [&](int64_t b, int64_t e) {
    thread_local Scratch s;
    s.reserve(one_kblock ? 0 : crows * kNr, slab_blocks * crows * kNr);
    // This range's panels in order, (item, leaf, k-block); item -1 past the end.
    struct Pos {
      int64_t item;
      int l;
      int64_t k0;
    };
    auto next = [&](Pos q) -> Pos {
      if (q.k0 + kKc < kb) return {q.item, q.l, q.k0 + kKc};
      if (q.l + 1 < nl) return {q.item, q.l + 1, 0};
      if (q.item + 1 < e) return {q.item + 1, 0, 0};
      return {-1, 0, 0};
    };
    auto make_panel = [&](const Pos& q, Panel& pn) {
      const Leaf& lf = leaves[static_cast<size_t>(q.l)];
      const int64_t pj = q.item / chunks;
      for (int i = 0; i < lf.nw; ++i) {
        pn.src[i] = static_cast<const uint8_t*>(w.panel(lf.w[i].j * npb + pj)) +
                    static_cast<size_t>(kNr * (lf.w[i].i * kb + q.k0)) * es;
        pn.sign[i] = lf.w[i].sign;
      }
      pn.nt = lf.nw;
      pn.n = kNr * std::min(kKc, kb - q.k0);
      if (!f16 && lf.nw == 1 && pn.sign[0] > 0) pn.direct = static_cast<const float*>(pn.src[0]);
    };
    // The first panel is built up front; each later one during the tiles of the one before.
    int buf = 0;
    const float* wp = s.wp[0];
    {
      Panel p0;
      make_panel({b, 0, 0}, p0);
      if (p0.direct != nullptr) {
        wp = p0.direct;
      } else {
        combine(f16, p0.src, p0.sign, p0.nt, 0, p0.n, s.wp[0]);
      }
    }
    for (int64_t item = b; item < e; ++item) {
      const int64_t j = item / chunks, t0 = (item % chunks) * crows;
      const int64_t t1 = std::min(mb, t0 + crows);
      for (int l = 0; l < nl; ++l) {
        const Leaf& lf = leaves[static_cast<size_t>(l)];
        const Operand& op = ops[static_cast<size_t>(l)];
        const int64_t r1 = std::min(t1, op.rows);
        Dests dst;
        for (int i = 0; i < lf.nd; ++i) {
          dst.p[dst.n] = s.slab + ((lf.d[i].j * nb + lf.d[i].i) * crows) * kNr;
          dst.first[dst.n] = first[static_cast<size_t>(l)][static_cast<size_t>(i)];
          // Rows this leaf does not reach (its operand is zero there) still need their zeros.
          if (dst.first[dst.n] && r1 < t1) {
            std::fill(dst.p[dst.n] + (std::max(r1, t0) - t0) * kNr,
                      dst.p[dst.n] + (t1 - t0) * kNr, 0.0f);
          }
          dst.sign[dst.n++] = lf.d[i].sign;
        }
        for (int64_t k0 = 0; k0 < kb; k0 += kKc) {
          const int64_t kc = std::min(kKc, kb - k0);
          const int tiles = static_cast<int>(std::max<int64_t>(1, (r1 - t0 + kMr - 1) / kMr));
          // The next panel is built by this one's tiles (the rest after them), and the sources
          // of the one after it stream in meanwhile.
          const Pos nx = next({item, l, k0});
          Panel pn;
          Side side;
          Prefetcher pf;
          if (nx.item >= 0) {
            make_panel(nx, pn);
            if (pn.direct == nullptr && f16) {
              side.nt = pn.nt;
              // The widest step whose slots cover the panel (vectors per tile), at least 2.
              const int64_t per_tile = (pn.n / 16 + tiles - 1) / tiles;
              int64_t step = kSideStep;
              while (step > 2 && kc / step < per_tile) step /= 2;
              side.mask = step - 1;
              side.slot = step / 2;
              for (int i = 0; i < pn.nt; ++i) {
                side.src[i] = static_cast<const uint16_t*>(pn.src[i]);
                side.neg[i] = pn.sign[i] > 0 ? 0 : INT32_MIN;
              }
              side.dst = s.wp[buf ^ 1];
              side.end = pn.n;
            }
            const Pos ahead = pn.direct == nullptr ? next(nx) : nx;
            if (ahead.item >= 0) {
              Panel pa;
              make_panel(ahead, pa);
              for (int i = 0; i < pa.nt; ++i) pf.src[i] = pa.src[i];
              pf.n = pa.nt;
              pf.bytes = pa.n * static_cast<int64_t>(es);
            }
          }
          pf.start(tiles);
          const bool last = k0 + kKc >= kb;
          for (int64_t a0 = t0; a0 < r1; a0 += kMr) {
            pf.step();
            // Prefetch addresses only (never dereferenced): past the operand's end they are
            // clamped to its first tile.
            const int64_t na = a0 + 2 * kMr <= r1 ? a0 + kMr : t0;
            run_tile(std::min(kMr, r1 - a0), wp, kc, op.p + a0 * op.stride + k0, op.stride,
                     s.part + (a0 - t0) * kNr, k0 > 0, last ? &dst : nullptr, (a0 - t0) * kNr,
                     op.p + na * op.stride + k0, side.nt > 0 ? &side : nullptr);
          }
          if (nx.item >= 0) {
            if (pn.direct != nullptr) {
              wp = pn.direct;
            } else {
              combine(f16, pn.src, pn.sign, pn.nt, side.j, pn.n, s.wp[buf ^ 1]);
              buf ^= 1;
              wp = s.wp[buf];
            }
          }
        }
      }
      // The slab to y: base + bias + sum, row by row.
      for (int rb = 0; rb < nb; ++rb) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t row = rb * mb + t;
          if (row >= m) break;
          for (int ob = 0; ob < nb; ++ob) {
            const int64_t c0 = (ob * npb + j) * kNr;
            const int64_t nc = std::min(kNr, N - c0);
            float* yr = y + row * N + c0;
            float* c = s.slab + ((ob * nb + rb) * crows + (t - t0)) * kNr;
            const bool skip = given.y_diagonal_only && rb != ob;
            if (skip || (stream && nc == kNr && reinterpret_cast<uintptr_t>(yr) % 64 == 0)) {
              // Finished in the slab row (cache), then streamed past the caches to y.
              finish_row(c, bias ? bias + c0 : nullptr, c);
              if (act == Activation::kGelu) gelu_tanh_f16_table(c, nc);
              if (act == Activation::kQuickGelu) quick_gelu_f16_table(c, nc);
              if (!skip) stream_row(c, yr);
              continue;
            }
            store_row(c, bias ? bias + c0 : nullptr, accumulate, nc, yr);
            if (act == Activation::kGelu) gelu_tanh_f16_table(yr, nc);
            if (act == Activation::kQuickGelu) quick_gelu_f16_table(yr, nc);
          }
        }
      }
      if (given.y) {
        // y's Strassen sums from the finished rows: in the slab where streamed (or skipped),
        // else in y (both still in cache). L = 1 here, so every panel is full (nc = 64).
        auto fin = [&](int rb, int ob, int64_t t) -> const float* {
          const int64_t row = rb * mb + t;
          if (row >= m) return nullptr;
          const float* yr = y + row * N + (ob * npb + j) * kNr;
          const bool in_slab = (given.y_diagonal_only && rb != ob) ||
                               (stream && reinterpret_cast<uintptr_t>(yr) % 64 == 0);
          return in_slab ? s.slab + ((ob * nb + rb) * crows + (t - t0)) * kNr : yr;
        };
        for (int64_t t = t0; t < t1; ++t) {
          given.y->put(t, j * kNr, kNr, fin(0, 0, t), fin(0, 1, t), fin(1, 0, t), fin(1, 1, t));
        }
      }
    }
    if (stream) _mm_sfence();
  }, 1);
}

}  // namespace omni::vision
