// Float GEMM for the ViT projections over weights packed once at load, with Strassen's
// recursion on the large products.
//
// PackedWeights holds a weight matrix (rows = outputs, cols = inputs) in the layout of the
// kernel level's 6 x 64 GEMM block: panels of 64 rows, panel p at p * 64 * cols, element (r, kk)
// at [64 * kk + r] (rows past the end are zero). F16 files stay F16 in the pack (same bytes as
// the file; converted per k-block while multiplying), F32 files stay F32. Any k-range of any
// panel is contiguous, so a Strassen sub-block of W is a panel offset plus a k offset.
//
// gemm(): y (m x rows) = [y or bias or 0] + x (m x cols) W^T. With Strassen levels L > 0 the
// product splits into 7^L sub-products of (m/2^L) x (cols/2^L) x (rows/2^L) instead of 8^L,
// i.e. 12.5 % (L = 1) or 23 % (L = 2) fewer multiply-adds. Weight sums are formed from the
// packed panels per k-block (exact: sums of F16 values in F32), activation sums are
// materialized once per call (rows split into 2^L equal blocks, the last one zero-padded) or, for
// one level, written beforehand by the input's producer (StrassenSums, GemmSums).
// Work is split by output panel: one item runs every sub-product for one panel of each output
// block, adding into a cache-resident slab that is written to y once (with bias, base and the
// optional activation; large outputs without a base bypass the caches). All sums are F32; the extra rounding of the activation and output sums
// is what the error tests measure. Blocking depends only on the shapes, so results do not
// depend on the thread count.
#pragma once

#include <cstdint>
#include <memory>

#include "core/dtype.h"

namespace omni {
class ThreadPool;
}

namespace omni::vision {

struct StrassenConfig {
  // 0: plain GEMM. Two levels read the F16 weights 9 times per product instead of 3, form
  // 45 activation sums instead of 5 and add into 4 output blocks instead of 2; with the
  // weight panels built inside the tile loop they still take 2.3-3.8 % less wall time on the
  // LLaVA encode at 2 threads (3 of 4 quiet interleaved rounds; one tie) and 1-2.5 % less CPU
  // at 1 thread, where every product has >= 256 inputs and outputs a quarter. SmolVLM's
  // 768-wide products (192 a quarter) lost ~1 % with two, so min_k2 keeps them at one.
  // OMNI_VISION_STRASSEN=0/1/2 overrides the level count.
  int max_levels = 2;
  int64_t min_m = 128;      // a level needs at least this many activation rows per half
  int64_t min_k = 192;      // ... and this many inputs per half
  int64_t min_k2 = 256;     // a second level needs this many inputs and outputs per quarter
  // Encoders have the producer of a one-level product's input write its activation sums
  // (GemmSums); false: gemm() forms them itself (the same bits: tests compare the two).
  bool producer_sums = true;
};

class PackedWeights {
 public:
  PackedWeights() = default;
  // w: rows x cols in GGUF row layout, F32 or F16 (anything else: omni::Error). Packs on the
  // pool (nullptr: the global pool).
  PackedWeights(DType type, const void* w, int64_t rows, int64_t cols, ThreadPool* pool = nullptr);

  bool empty() const { return rows_ == 0; }
  DType type() const { return type_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t panels() const { return (rows_ + 63) / 64; }
  const void* panel(int64_t p) const;  // start of panel p (element size of type())
  size_t bytes() const;

 private:
  DType type_ = DType::F32;
  int64_t rows_ = 0, cols_ = 0;
  std::shared_ptr<void> data_;
};

// Number of Strassen levels gemm() uses for this product under `cfg`.
int strassen_levels(const PackedWeights& w, int64_t m, const StrassenConfig& cfg);

// An activation applied to gemm()'s final outputs while they are still in cache (saves a
// separate pass over y): exactly gelu_tanh_f16_table / quick_gelu_f16_table (vision/gelu_table.h).
enum class Activation { kNone, kGelu, kQuickGelu };

// The activation sums of a one-level Strassen product, written by whoever produces its input
// while the values are still in registers or cache (gemm() otherwise forms them in a pass of its
// own over x: one more read of x and one more pool barrier per product). The product reads
// x (m x K) as quadrants A11 A12 / A21 A22: row halves of rows = ceil(m / 2) (the second one
// zero-padded past m) and input halves of cols = K / 2. Five of its seven sub-products take
// sums; block s holds, row r, column c (each 0 + first + second in F32, in that order):
//   0: A11 + A22   1: A21 + A22   2: A11 + A12   3: A21 - A11   4: A12 - A22
// The other two read A11 and A22 in place from x. Only where gemm() runs (AVX-512).
struct StrassenSums {
  static constexpr int kCount = 5;
  int64_t rows = 0, cols = 0;
  int64_t stride = 0;     // floats between rows (a cache line more than cols: fewer L1 conflicts)
  float* data = nullptr;  // kCount blocks of rows x stride floats, 64-byte aligned

  // The layout gemm() takes for an m x k input (data left null; k even).
  static StrassenSums layout(int64_t m, int64_t k);
  int64_t floats() const { return kCount * rows * stride; }
  float* block(int s) const { return data + s * rows * stride; }
  // Sums of row r, columns [c0, c0 + n), from the quadrants' rows at those columns (each
  // pointer at column c0 of its quadrant; a21 and a22 null for a row r + rows past m).
  void put(int64_t r, int64_t c0, int64_t n, const float* a11, const float* a12,
           const float* a21, const float* a22) const;
};

// Strassen sums gemm() takes instead of forming them, and/or writes for the next product.
struct GemmSums {
  // x's sums, StrassenSums::layout(m, w.cols()); only for a one-level product (omni::Error
  // otherwise). x's quadrants A12 and A21 are then never read.
  const StrassenSums* x = nullptr;
  // Where to write y's sums, StrassenSums::layout(m, w.rows()), from the final (activated)
  // outputs while they are in cache; needs a one-level product (omni::Error otherwise: its work
  // items hold all four quadrants of their output columns). With `y_diagonal_only`, y's
  // quadrants A12 and A21 are not written at all (a consumer given these sums never reads them).
  const StrassenSums* y = nullptr;
  bool y_diagonal_only = false;
};

// y (m x w.rows(), row stride w.rows()) = act(base + x (m x w.cols(), row stride w.cols()) W^T),
// base = y's current values when `accumulate`, else bias (w.rows() floats) or zero when bias is
// nullptr. With accumulate, bias (if given) is added too.
void gemm(const PackedWeights& w, const float* x, int64_t m, const float* bias, bool accumulate,
          float* y, const StrassenConfig& cfg, ThreadPool& pool,
          Activation act = Activation::kNone, const GemmSums& sums = {});

}  // namespace omni::vision
