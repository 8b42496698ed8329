#include "core/kernels.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/kernels_impl.h"
#include "core/thread_pool.h"

namespace omni::kernels {

namespace {

const std::array<KernelTable, 3>& all_tables() {
  static const std::array<KernelTable, 3> tables = [] {
    std::array<KernelTable, 3> t{};
    detail::fill_scalar(t[0]);
    t[1] = t[0];
    t[2] = t[0];
    const CpuLevel max = cpu_max_level();
    if (max >= CpuLevel::kAvx2) {
      detail::fill_avx2(t[1]);
      t[1].level = CpuLevel::kAvx2;
      t[2] = t[1];
    }
    if (max >= CpuLevel::kAvx512) {
      detail::fill_avx512(t[2]);
      t[2].level = CpuLevel::kAvx512;
    }
    return t;
  }();
  return tables;
}

}  // namespace

const KernelTable& kernel_table(CpuLevel level) {
  if (level > cpu_max_level()) {
    throw Error("kernels: level " + std::string(cpu_level_name(level)) +
                " is not supported by this CPU");
  }
  return all_tables()[static_cast<size_t>(level)];
}

const KernelTable& active() {
  static const KernelTable& table = kernel_table(cpu_level());
  return table;
}

ActFormat act_format(DType wtype) {
  switch (wtype) {
    case DType::F32:
    case DType::F16:
    case DType::BF16: return ActFormat::kF32;
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1: return ActFormat::kQ8;
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K: return ActFormat::kQ8_K;
    default: break;
  }
  throw Error("kernels: no matrix kernel for weight type " + std::string(dtype_name(wtype)));
}

namespace {

// Adapters giving the float dots the common (weights, activations) signature; `Level` picks the
// table at compile time (only instantiated for levels the CPU runs).
template <int Level>
float dot_f32_any(const void* w, const void* a, int64_t n) {
  return all_tables()[Level]
      .dot_f32(static_cast<const float*>(w), static_cast<const float*>(a), n);
}
template <int Level>
float dot_f16_any(const void* w, const void* a, int64_t n) {
  return all_tables()[Level]
      .dot_f16(static_cast<const uint16_t*>(w), static_cast<const float*>(a), n);
}
template <int Level>
float dot_bf16_any(const void* w, const void* a, int64_t n) {
  return all_tables()[Level]
      .dot_bf16(static_cast<const uint16_t*>(w), static_cast<const float*>(a), n);
}

template <int Level>
DotFn float_dot(DType t) {
  if (t == DType::F32) return dot_f32_any<Level>;
  if (t == DType::F16) return dot_f16_any<Level>;
  return dot_bf16_any<Level>;
}

uint64_t checked_row_bytes(DType wtype, int64_t cols) {
  if (cols <= 0) throw Error("kernels: matrix with " + std::to_string(cols) + " columns");
  const auto rb = row_bytes(wtype, static_cast<uint64_t>(cols));
  if (!rb) {
    throw Error("kernels: " + std::to_string(cols) + " columns is not a whole number of " +
                std::string(dtype_name(wtype)) + " blocks");
  }
  return *rb;
}

}  // namespace

DotFn dot_fn(DType wtype, const KernelTable& k) {
  switch (wtype) {
    case DType::F32:
    case DType::F16:
    case DType::BF16:
      switch (k.level) {
        case CpuLevel::kScalar: return float_dot<0>(wtype);
        case CpuLevel::kAvx2: return float_dot<1>(wtype);
        case CpuLevel::kAvx512: return float_dot<2>(wtype);
      }
      break;
    case DType::Q8_0: return k.dot_q8_0;
    case DType::Q4_0: return k.dot_q4_0;
    case DType::Q4_1: return k.dot_q4_1;
    case DType::Q5_0: return k.dot_q5_0;
    case DType::Q5_1: return k.dot_q5_1;
    case DType::Q4_K: return k.dot_q4_K;
    case DType::Q5_K: return k.dot_q5_K;
    case DType::Q6_K: return k.dot_q6_K;
    default: break;
  }
  throw Error("kernels: no dot kernel for weight type " + std::string(dtype_name(wtype)));
}

KernelTable::QuantTileFn quant_tile_fn(DType wtype, const KernelTable& k) {
  switch (wtype) {
    case DType::Q8_0: return k.tile4x4_q8_0;
    case DType::Q4_0: return k.tile4x4_q4_0;
    case DType::Q4_1: return k.tile4x4_q4_1;
    case DType::Q5_0: return k.tile4x4_q5_0;
    case DType::Q5_1: return k.tile4x4_q5_1;
    case DType::Q4_K: return k.tile4x4_q4_K;
    case DType::Q5_K: return k.tile4x4_q5_K;
    case DType::Q6_K: return k.tile4x4_q6_K;
    default: return nullptr;
  }
}

KernelTable::QuantRows4Fn quant_rows4_fn(DType wtype, const KernelTable& k) {
  switch (wtype) {
    case DType::Q8_0: return k.rows4_q8_0;
    case DType::Q4_0: return k.rows4_q4_0;
    case DType::Q4_1: return k.rows4_q4_1;
    case DType::Q5_0: return k.rows4_q5_0;
    case DType::Q5_1: return k.rows4_q5_1;
    case DType::Q4_K: return k.rows4_q4_K;
    case DType::Q5_K: return k.rows4_q5_K;
    case DType::Q6_K: return k.rows4_q6_K;
    default: return nullptr;
  }
}

KernelTable::QuantGemmFn quant_gemm_fn(DType wtype, const KernelTable& k) {
  switch (wtype) {
    case DType::Q8_0: return k.gemm_q8_0;
    case DType::Q4_0: return k.gemm_q4_0;
    case DType::Q5_0: return k.gemm_q5_0;
    case DType::Q6_K: return k.gemm_q6_K;
    case DType::Q4_K: return k.gemm_q4_K;
    case DType::Q5_K: return k.gemm_q5_K;
    default: return nullptr;
  }
}

void Activations::quantize(DType wtype, const float* x, int64_t m, int64_t cols,
                           const KernelTable& k) {
  checked_row_bytes(wtype, cols);
  format_ = act_format(wtype);
  m_ = m;
  cols_ = cols;
  f32_ = nullptr;
  const auto um = static_cast<size_t>(m), uc = static_cast<size_t>(cols);
  switch (format_) {
    case ActFormat::kF32: f32_ = x; break;
    case ActFormat::kQ8: {
      const size_t nb = uc / QK8_0;
      qs_.resize(um * uc);
      d_.resize(um * nb);
      sd_.resize(um * nb);
      sum_.resize(um * nb);
      neg_sum8_.resize(um * nb * 8);
      neg_sum4x2_.resize(um * nb * 4);
      const size_t groups = nb / 4;
      qs_nib_.resize(um * groups * 128);
      q8_rows_.resize(um);
      for (size_t i = 0; i < um; ++i) {
        k.quantize_q8(x + i * uc, cols, qs_.data() + i * uc, d_.data() + i * nb,
                      sd_.data() + i * nb, sum_.data() + i * nb);
        for (size_t b = 0; b < nb; ++b) {
          std::fill_n(neg_sum8_.data() + (i * nb + b) * 8, 8, -sum_[i * nb + b]);
          std::fill_n(neg_sum4x2_.data() + (i * nb + b) * 4, 4, -2 * sum_[i * nb + b]);
        }
        const int8_t* q = qs_.data() + i * uc;
        int8_t* nib = qs_nib_.data() + i * groups * 128;
        for (size_t g = 0; g < groups; ++g) {
          for (size_t j = 0; j < 4; ++j) {
            const int8_t* blk = q + (4 * g + j) * 32;
            std::copy_n(blk, 16, nib + 128 * g + 16 * j);
            std::copy_n(blk + 16, 16, nib + 128 * g + 64 + 16 * j);
          }
        }
        q8_rows_[i] = Q8Row{qs_.data() + i * uc,       d_.data() + i * nb,
                            sd_.data() + i * nb,       sum_.data() + i * nb,
                            neg_sum8_.data() + i * nb * 8, nib,
                            neg_sum4x2_.data() + i * nb * 4};
      }
      break;
    }
    case ActFormat::kQ8_K: {
      const size_t nb = uc / QK_K;
      q8k_.resize(um * nb);
      for (size_t i = 0; i < um; ++i) k.quantize_q8_K(x + i * uc, cols, q8k_.data() + i * nb);
      break;
    }
  }
}

const void* Activations::row(int64_t i) const {
  switch (format_) {
    case ActFormat::kF32: return f32_ + i * cols_;
    case ActFormat::kQ8: return &q8_rows_[static_cast<size_t>(i)];
    case ActFormat::kQ8_K: return q8k_.data() + i * (cols_ / QK_K);
  }
  return nullptr;
}

namespace {

// Float weights through the level's GEMM block: each thread takes panels of 64 weight rows,
// converts and packs kKc columns of them k-major (512 x 64 floats = 128 KiB, stays in L2),
// and runs every group of 6 activation rows over the packed block; the partial sums of
// successive column blocks are added in order. Conversion happens once per weight element
// per call, not once per activation row group as in the dot tiles. Blocking depends only on
// the shapes, so results do not depend on the thread count.
void gemm_packed(const KernelTable& k, DType wtype, const void* w, int64_t rows, int64_t cols,
                 const float* x, int64_t m, float* y, ThreadPool& tp) {
  constexpr int64_t kNr = 64, kKc = 512, kMr = 6, kT = 16;
  const int64_t panels = (rows + kNr - 1) / kNr;
  const int64_t kblocks = (cols + kKc - 1) / kKc;
  const bool vector_pack = wtype == DType::F16 ? k.pack64_f16 != nullptr : k.pack64_f32 != nullptr;
  const auto* wbytes = static_cast<const char*>(w);
  const int64_t esize = wtype == DType::F16 ? 2 : 4;
  // One share of panels per thread, equal to within a panel: the pool cuts n items into ~4
  // chunks per thread, which split the 14 panels of an 896-row matrix 8 : 6 (and 76 panels
  // 40 : 36) between 2 threads. A thread that starts late still loses its share to the other.
  const int64_t shares = std::min<int64_t>(panels, tp.size());
  tp.parallel_for(shares, [&](int64_t sb, int64_t se) {
    const int64_t pb = panels * sb / shares, pe = panels * se / shares;
    // wp: the packed k-block of one panel ([k][64]), by the level's register transposes where it
    // has them; otherwise through stage: the 64 weight rows as floats, row after row, transposed
    // in 16 x 16 tiles that stay in L1 (a per-row scatter missed L1 on every store). acc: the
    // panel's partial sums over k-blocks, contiguous: y's rows are a power of two apart and
    // thrashed the cache sets when the partial sums went there. Sums are added in k order.
    thread_local std::vector<float> buf;
    const int64_t acc_n = kblocks > 1 ? m * kNr : 0;
    buf.resize(static_cast<size_t>(2 * kKc * kNr + 16 + kMr * kNr + acc_n));
    const auto base = reinterpret_cast<uintptr_t>(buf.data());
    float* wp = buf.data() + ((64 - base % 64) % 64) / sizeof(float);
    float* stage = wp + kKc * kNr;
    float* c = stage + kKc * kNr;
    float* acc = c + kMr * kNr;
    for (int64_t p = pb; p < pe; ++p) {
      const int64_t r0 = p * kNr, nr = std::min(kNr, rows - r0);
      for (int64_t k0 = 0; k0 < cols; k0 += kKc) {
        const int64_t kc = std::min(kKc, cols - k0);
        const bool first = k0 == 0, last = k0 + kc == cols;
        if (vector_pack && wtype == DType::F16) {
          k.pack64_f16(static_cast<const uint16_t*>(w) + r0 * cols + k0, cols, nr, kc, wp);
        } else if (vector_pack) {
          k.pack64_f32(static_cast<const float*>(w) + r0 * cols + k0, cols, nr, kc, wp);
        } else {
          for (int64_t r = 0; r < kNr; ++r) {
            float* dst = stage + r * kc;
            if (r >= nr) {
              std::fill(dst, dst + kc, 0.0f);
            } else if (wtype == DType::F16) {
              k.fp16_to_fp32_row(static_cast<const uint16_t*>(w) + (r0 + r) * cols + k0, kc, dst);
            } else {
              std::memcpy(dst, static_cast<const float*>(w) + (r0 + r) * cols + k0,
                          static_cast<size_t>(kc) * sizeof(float));
            }
          }
          for (int64_t kt = 0; kt < kc; kt += kT) {
            const int64_t ke = std::min(kc, kt + kT);
            for (int64_t rt = 0; rt < kNr; rt += kT) {
              for (int64_t kk = kt; kk < ke; ++kk) {
                float* wrow = wp + kNr * kk;
                for (int64_t r = rt; r < rt + kT; ++r) wrow[r] = stage[r * kc + kk];
              }
            }
          }
        }
        // The next block this thread packs (the panel's next k-block, else the next panel's
        // first) is fetched into L2 a slice per row group while this one computes: packing
        // reads 64 rows at once, more streams than the hardware prefetcher follows, and
        // waited on DRAM for most of its time.
        int64_t nxt_r0 = r0, nxt_k0 = k0 + kc, nxt_nr = nr;
        if (last) {
          nxt_r0 = r0 + kNr;
          nxt_k0 = 0;
          nxt_nr = p + 1 < pe ? std::min(kNr, rows - nxt_r0) : 0;
        }
        const int64_t nxt_bytes = std::min(kKc, cols - nxt_k0) * esize;
        const int64_t groups = (m + kMr - 1) / kMr;
        int64_t pf_row = 0, pf_off = 0;  // next line to fetch: row of the block, byte offset
        for (int64_t a0 = 0; a0 < m; a0 += kMr) {
          const int64_t ma = std::min(kMr, m - a0);
          for (const int64_t row_end = nxt_nr * (a0 / kMr + 1) / groups; pf_row < row_end; ++pf_row) {
            const char* row = wbytes + ((nxt_r0 + pf_row) * cols + nxt_k0) * esize;
            for (; pf_off < nxt_bytes; pf_off += 64) __builtin_prefetch(row + pf_off, 0, 2);
            pf_off = 0;
          }
          k.gemm6x64_f32(wp, kc, x + a0 * cols + k0, cols, ma, c);
          for (int64_t a = 0; a < ma; ++a) {
            const float* cr = c + kNr * a;
            float* ar = acc + (a0 + a) * kNr;
            if (last) {
              float* yr = y + (a0 + a) * rows + r0;
              if (first) {
                std::memcpy(yr, cr, static_cast<size_t>(nr) * sizeof(float));
              } else {
                for (int64_t r = 0; r < nr; ++r) yr[r] = ar[r] + cr[r];
              }
            } else if (first) {
              std::memcpy(ar, cr, kNr * sizeof(float));
            } else {
              for (int64_t r = 0; r < kNr; ++r) ar[r] += cr[r];
            }
          }
        }
      }
    }
  }, 1);
}

// y[r] = dot(row r, a) for b <= r < e: a single-token product, which streams every weight byte
// once. With the level's 4-row kernel the rows are cut into 4 contiguous segments and row i of
// every segment is computed in the same call (bit for bit the dots), so the matrix is read as 4
// far-apart sequential streams that the hardware prefetchers follow in parallel; one stream (4
// adjacent rows, or one row at a time with a software prefetch kAhead bytes on, which the few
// leftover rows and levels without the kernel still use) left DRAM waiting between requests.
// Measured at 1 thread, CPU time per call against 4 adjacent rows with the prefetch (load ~9,
// docs/BENCHMARKS.md): -20-25 % at 4864x896 and on the 151936x896 Q8_0 LM head, -40-60 % at
// 896x4864. Eight streams were slower for the long rows.
void quant_rows(DotFn dot, KernelTable::QuantRows4Fn rows4, const uint8_t* wb, uint64_t rb,
                int64_t b, int64_t e, const void* a, int64_t cols, float* y) {
  int64_t r = b;
  if (rows4 != nullptr && e - b >= 4) {
    const int64_t seg = (e - b) / 4;
    const uint64_t stride = static_cast<uint64_t>(seg) * rb;
    float out[4];
    for (int64_t i = 0; i < seg; ++i) {
      rows4(wb + static_cast<uint64_t>(b + i) * rb, stride, a, cols, out);
      for (int k = 0; k < 4; ++k) y[b + i + k * seg] = out[k];
    }
    r = b + 4 * seg;
  }
  constexpr uint64_t kAhead = 16 << 10;
  const uint64_t end = static_cast<uint64_t>(e) * rb;  // offsets stay inside this share's rows
  for (; r < e; ++r) {
    const uint64_t off = static_cast<uint64_t>(r) * rb;
    for (uint64_t o = off + kAhead; o < std::min(off + rb + kAhead, end); o += 64) {
      __builtin_prefetch(wb + o, 0, 2);
    }
    y[r] = dot(wb + off, a, cols);
  }
}

}  // namespace

void matmul(DType wtype, const void* w, int64_t rows, const Activations& act, float* y,
            ThreadPool* pool) {
  if (act_format(wtype) != act.format()) {
    throw Error("kernels: activations were prepared for another weight type than " +
                std::string(dtype_name(wtype)));
  }
  const int64_t cols = act.cols(), m = act.rows();
  const uint64_t rb = checked_row_bytes(wtype, cols);
  if (rows <= 0 || m <= 0) return;
  const DotFn dot = dot_fn(wtype, active());
  const auto* wb = static_cast<const uint8_t*>(w);
  ThreadPool& tp = pool != nullptr ? *pool : ThreadPool::global();
  if (m == 1 && wtype == DType::F16 && active().matvec_f16 != nullptr) {
    // Same values as the per-row dots, with the level's prefetching row loop.
    const auto* x = static_cast<const float*>(act.row(0));
    const auto* wh = static_cast<const uint16_t*>(w);
    const auto mv = active().matvec_f16;
    tp.parallel_for(
        rows, [&](int64_t b, int64_t e) { mv(wh + b * cols, cols, e - b, x, cols, y + b); }, 8);
    return;
  }
  if (m == 1) {
    const void* a = act.row(0);
    const KernelTable::QuantRows4Fn rows4 = quant_rows4_fn(wtype, active());
    tp.parallel_for(
        rows,
        [&](int64_t b, int64_t e) {
          quant_rows(dot, rows4, wb, rb, b, e, a, cols, y);
        },
        8);
    return;
  }
  const KernelTable& k = active();
  if ((wtype == DType::F32 || wtype == DType::F16) && k.gemm6x64_f32 != nullptr && m >= 8) {
    gemm_packed(k, wtype, w, rows, cols, static_cast<const float*>(act.row(0)), m, y, tp);
    return;
  }
  const KernelTable::QuantGemmFn qgemm = quant_gemm_fn(wtype, k);
  if (qgemm != nullptr && m >= 4) {
    // Equal to the dots bit for bit, so the split may follow the thread count: one share of
    // rows per thread (a multiple of 2, the kernel's row block).
    std::vector<const void*> rows_act(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) rows_act[static_cast<size_t>(i)] = act.row(i);
    const int64_t nt = tp.size();
    const int64_t share = std::max<int64_t>(2, ((rows + nt - 1) / nt + 1) / 2 * 2);
    const int64_t shares = (rows + share - 1) / share;
    tp.parallel_for(shares, [&](int64_t sb, int64_t se) {
      for (int64_t s = sb; s < se; ++s) {
        const int64_t r0 = s * share, nr = std::min(share, rows - r0);
        qgemm(wb + static_cast<uint64_t>(r0) * rb, rb, nr, rows_act.data(), m, cols, y + r0, rows);
      }
    }, 1);
    return;
  }
  // Batched: a tile of weight rows (about 384 KiB, it stays in L2 next to the current group of
  // activation rows) meets every activation row
  // before the next tile is read, so weights stream from memory once per call. Float weights
  // use the 4x4 register-blocked kernel where the level has one (4 weight rows x 4 activation
  // rows per pass: 8 loads feed 16 FMAs); quantized weights use the level's 4x4 tile, whose
  // outputs are bit-identical to the dots. The blocking depends only on the shapes, so results
  // do not depend on the thread count.
  const bool tiled_f32 = wtype == DType::F32 && k.tile4x4_f32 != nullptr;
  const bool tiled_f16 = wtype == DType::F16 && k.tile4x4_f16 != nullptr;
  const KernelTable::QuantTileFn qtile = quant_tile_fn(wtype, k);
  int64_t tile = std::clamp<int64_t>(static_cast<int64_t>((384 << 10) / rb), 4, 512);
  tile -= tile % 4;
  if (qtile != nullptr) {
    // Quantized tiles equal the dots bit for bit, so here the blocking may follow the thread
    // count: round the tile count up to a multiple of it, so that the Q/K/V/O projections
    // (896 or 128 rows, 1-3 L2 tiles) do not leave a thread idle.
    const int64_t nt = tp.size();
    int64_t want = (rows + tile - 1) / tile;
    want = (want + nt - 1) / nt * nt;
    tile = std::max<int64_t>(4, ((rows + want - 1) / want + 3) / 4 * 4);
  }
  const int64_t tiles = (rows + tile - 1) / tile;
  tp.parallel_for(tiles, [&](int64_t tb, int64_t te) {
    for (int64_t t = tb; t < te; ++t) {
      const int64_t r0 = t * tile, r1 = std::min(rows, r0 + tile);
      int64_t i = 0;
      if (tiled_f32 || tiled_f16 || qtile != nullptr) {
        float out[16];
        for (; i + 4 <= m; i += 4) {
          const auto* x = static_cast<const float*>(act.row(i));
          const void* rows4[4] = {act.row(i), act.row(i + 1), act.row(i + 2), act.row(i + 3)};
          int64_t r = r0;
          for (; r + 4 <= r1; r += 4) {
            if (qtile != nullptr) {
              qtile(wb + static_cast<uint64_t>(r) * rb, rb, rows4, cols, out);
            } else if (tiled_f32) {
              k.tile4x4_f32(static_cast<const float*>(w) + r * cols, cols, x, cols, cols, out);
            } else {
              k.tile4x4_f16(static_cast<const uint16_t*>(w) + r * cols, cols, x, cols, cols, out);
            }
            for (int ii = 0; ii < 4; ++ii) {
              for (int rr = 0; rr < 4; ++rr) y[(i + ii) * rows + r + rr] = out[4 * ii + rr];
            }
          }
          for (; r < r1; ++r) {
            for (int ii = 0; ii < 4; ++ii) {
              y[(i + ii) * rows + r] = dot(wb + static_cast<uint64_t>(r) * rb, act.row(i + ii), cols);
            }
          }
        }
      }
      for (; i < m; ++i) {
        const void* a = act.row(i);
        float* yi = y + i * rows;
        for (int64_t r = r0; r < r1; ++r) yi[r] = dot(wb + static_cast<uint64_t>(r) * rb, a, cols);
      }
    }
  });
}

void matmul(DType wtype, const void* w, int64_t rows, int64_t cols, const float* x, int64_t m,
            float* y, ThreadPool* pool) {
  thread_local Activations scratch;
  scratch.quantize(wtype, x, m, cols);
  matmul(wtype, w, rows, scratch, y, pool);
}

void matvec(DType wtype, const void* w, int64_t rows, int64_t cols, const float* x, float* y,
            ThreadPool* pool) {
  matmul(wtype, w, rows, cols, x, 1, y, pool);
}

void rope_cache(float pos, int64_t n_rot, float freq_base, float freq_scale, float* cos,
                float* sin) {
  const float theta_scale = std::pow(freq_base, -2.0f / static_cast<float>(n_rot));
  float theta = pos;
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    const float t = freq_scale * theta;
    cos[i] = std::cos(t);
    sin[i] = std::sin(t);
    theta *= theta_scale;
  }
}

void add_rows(const float* a, const float* b, int64_t rows, int64_t n, float* y) {
  const KernelTable& k = active();
  for (int64_t r = 0; r < rows; ++r) k.add(a + r * n, b, n, y + r * n);
}

void mul_rows(const float* a, const float* b, int64_t rows, int64_t n, float* y) {
  const KernelTable& k = active();
  for (int64_t r = 0; r < rows; ++r) k.mul(a + r * n, b, n, y + r * n);
}

}  // namespace omni::kernels
