// Compute kernels for the engines: dot products over every weight type we run (f32, f16, bf16,
// the 32-element quants and the K-quants), matvec / matmul over GGUF-layout weight rows on the
// thread pool, and the elementwise ops of transformer layers. Each kernel exists at three levels
// (scalar, AVX2, AVX-512+VNNI; see core/cpu.h); the level is chosen once from CPUID and OMNI_CPU
// and every call below goes through that level's table. kernel_table(level) gives any level's
// table directly (tests compare them all against double-precision references).
//
// Quantized weights are multiplied with activations quantized the way llama.cpp does it, so
// results match its CPU backend to rounding: Q8_0-style blocks of 32 (d = amax/127 rounded to
// fp16, q = round-to-nearest-even(x/d)) for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 weights, Q8_K blocks of 256
// (float d, bsums) for K-quants. The integer part of every block dot is exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/quant_blocks.h"

namespace omni {

class ThreadPool;

namespace kernels {

// One activation row quantized to int8 blocks of 32, stored as arrays so SIMD loads are
// contiguous: qs[32*b + i], d[b] = the block's scale (an fp16 value held as float), and
// sum[b] = sum_i qs[32*b + i] and sd[b] = d[b] * sum[b] (weights with an offset or a minimum
// use them); neg_sum8[8*b + j] = -sum[b] for j < 8, the starting lanes of a SIMD block sum that
// cancel a weight offset of 8 exactly (loaded instead of built per block).
// For 4-bit weights, whose nibbles split each block into elements 0-15 and 16-31, groups of four
// whole blocks are also stored nibble-ordered: qs_nib[128*g + 16*j + i] = element i of block
// 4g+j and qs_nib[128*g + 64 + 16*j + i] = element 16+i, with neg_sum4x2[4*b + j] = -2*sum[b]
// for j < 4 (four lanes per block in that layout).
struct Q8Row {
  const int8_t* qs;
  const float* d;
  const float* sd;
  const int32_t* sum;
  const int32_t* neg_sum8;
  const int8_t* qs_nib;
  const int32_t* neg_sum4x2;
};

enum class RopeMode {
  kNormal,  // rotates adjacent pairs (x[2i], x[2i+1]) (llama.cpp "norm" mode, LLaMA)
  kNeox,    // rotates halves (x[i], x[i + n_rot/2]) (GPT-NeoX, Qwen2)
};

// Per-level function table. Lengths n are element counts; quantized dots take the number of
// weight elements n (a multiple of the block size). `act` is a `const Q8Row*` for 32-element
// quants and a `const BlockQ8_K*` for K-quants.
struct KernelTable {
  CpuLevel level;
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  float (*dot_f16)(const uint16_t* a, const float* b, int64_t n);
  float (*dot_bf16)(const uint16_t* a, const float* b, int64_t n);

  // n % 32 == 0 / n % 256 == 0.
  void (*quantize_q8)(const float* x, int64_t n, int8_t* qs, float* d, float* sd, int32_t* sum);
  void (*quantize_q8_K)(const float* x, int64_t n, BlockQ8_K* y);

  float (*dot_q8_0)(const void* w, const void* act, int64_t n);
  float (*dot_q4_0)(const void* w, const void* act, int64_t n);
  float (*dot_q4_1)(const void* w, const void* act, int64_t n);
  float (*dot_q5_0)(const void* w, const void* act, int64_t n);
  float (*dot_q5_1)(const void* w, const void* act, int64_t n);
  float (*dot_q4_K)(const void* w, const void* act, int64_t n);
  float (*dot_q5_K)(const void* w, const void* act, int64_t n);
  float (*dot_q6_K)(const void* w, const void* act, int64_t n);

  // Optional register-blocked tiles for batched float products (nullptr at levels without
  // them): out[4 * i + r] = dot(weight row r, activation row i) for 4 weight rows starting at
  // w (w_stride elements apart) and 4 activation rows starting at x (x_stride apart).
  void (*tile4x4_f32)(const float* w, int64_t w_stride, const float* x, int64_t x_stride,
                      int64_t n, float* out);
  void (*tile4x4_f16)(const uint16_t* w, int64_t w_stride, const float* x, int64_t x_stride,
                      int64_t n, float* out);
  // Optional F16 matrix-vector product (nullptr where absent): y[r] = dot_f16(w + r * w_stride,
  // x, n) for r < rows, bit for bit, with the prefetch a streaming read needs. Single-token
  // F16 products (kernels::matmul with one activation row) run through it.
  void (*matvec_f16)(const uint16_t* w, int64_t w_stride, int64_t rows, const float* x, int64_t n,
                     float* y);
  // Optional GEMM block for float weights (nullptr where absent): 64 weight rows packed
  // k-major (wp[64 * kk + r] = row r, column kk; 64-byte aligned) times m <= 6 activation
  // rows: c[64 * a + r] = sum_{kk < kc} wp[64 * kk + r] * x[a * x_stride + kk] (overwritten).
  void (*gemm6x64_f32)(const float* wp, int64_t kc, const float* x, int64_t x_stride, int64_t m,
                       float* c);
  // Optional (nullptr where absent): the same product for one activation row over F16 weights
  // packed the same way (wp[64 * kk + r], 64-byte aligned): c[r] = sum_{kk < kc} wp[64 * kk + r]
  // * x[kk], summed in order of kk with one f32 FMA chain per output. Whisper's cross-attention
  // keeps its keys and values in this form (half the bytes per decoded token).
  void (*gemv64_f16)(const uint16_t* wp, int64_t kc, const float* x, float* c);
  // Optional packing for gemm6x64_f32 (nullptr where absent): wp[64 * kk + r] = element kk of
  // row r (rows w_stride elements apart, widened to float) for r < nr, 0 for nr <= r < 64,
  // kk < kc; wp 64-byte aligned. Pure data movement, so results do not change with it.
  void (*pack64_f32)(const float* w, int64_t w_stride, int64_t nr, int64_t kc, float* wp);
  void (*pack64_f16)(const uint16_t* w, int64_t w_stride, int64_t nr, int64_t kc, float* wp);
  // Same for quantized weights: 4 weight rows starting at w (w_row_bytes apart) times the 4
  // prepared activation rows act[0..3] (as for the dot functions), n weight elements each.
  // out[4 * i + r] is bit for bit what the level's dot function returns for that pair: the
  // tile interleaves the 16 dots' exact operation sequences (so unpacked weight blocks and
  // activation blocks are reused from registers and 16 independent chains hide latencies),
  // which keeps results independent of how a product is blocked.
  using QuantTileFn = void (*)(const void* w, uint64_t w_row_bytes, const void* const* act,
                               int64_t n, float* out);
  QuantTileFn tile4x4_q8_0;
  QuantTileFn tile4x4_q4_0;
  QuantTileFn tile4x4_q4_1;
  QuantTileFn tile4x4_q5_0;
  QuantTileFn tile4x4_q5_1;
  QuantTileFn tile4x4_q4_K;
  QuantTileFn tile4x4_q5_K;
  QuantTileFn tile4x4_q6_K;
  // Optional single-token products (nullptr where absent): y[r] = the level's dot of weight row
  // r (4 rows starting at w, w_row_bytes apart) with the one prepared activation row act, for
  // r < 4, bit for bit (the 4 dots' operation sequences interleaved, as in the tiles). A lone
  // dot waits on one accumulator chain and reduces after every row; 4 rows in flight share the
  // activation loads and overlap those latencies, which is what a streaming matvec needs.
  using QuantRows4Fn = void (*)(const void* w, uint64_t w_row_bytes, const void* act, int64_t n,
                                float* y);
  QuantRows4Fn rows4_q8_0;
  QuantRows4Fn rows4_q4_0;
  QuantRows4Fn rows4_q4_1;
  QuantRows4Fn rows4_q5_0;
  QuantRows4Fn rows4_q5_1;
  QuantRows4Fn rows4_q4_K;
  QuantRows4Fn rows4_q5_K;
  QuantRows4Fn rows4_q6_K;
  // Optional batched products (nullptr where absent): y[i * ys + r] = the level's dot of weight
  // row r (r < rows, w_row_bytes apart) with prepared activation row act[i] (i < m), n weight
  // elements each, bit for bit. They unpack each weight row once per call instead of once per
  // tile, so they beat the tiles when m is large (a prompt batch).
  using QuantGemmFn = void (*)(const void* w, uint64_t w_row_bytes, int64_t rows,
                               const void* const* act, int64_t m, int64_t n, float* y, int64_t ys);
  QuantGemmFn gemm_q4_0;
  // Q8_0 is the exception to "bit for bit": its batched product sums each block as four lane
  // partial sums (the 4-bit types' layout, half the float work of the dot's llama.cpp order),
  // so outputs differ from dot_q8_0 by float rounding only (the integer block sums are exact).
  QuantGemmFn gemm_q8_0;
  QuantGemmFn gemm_q5_0;
  QuantGemmFn gemm_q6_K;
  QuantGemmFn gemm_q4_K;
  QuantGemmFn gemm_q5_K;

  // Elementwise (x and y may alias unless noted).
  void (*rms_norm)(const float* x, const float* w, float eps, int64_t n, float* y);
  void (*layer_norm)(const float* x, const float* w, const float* b, float eps, int64_t n,
                     float* y);
  void (*softmax)(float* x, int64_t n, float scale, const float* mask);
  void (*attn_pv4)(const float* p, int64_t ps, int64_t len, const float* v, int64_t vs,
                   int64_t n, float* out, int64_t os);
  void (*rope)(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeMode mode,
               const float* cos, const float* sin);
  void (*silu)(const float* x, int64_t n, float* y);
  void (*swiglu)(const float* a, const float* b, int64_t n, float* y);
  void (*gelu_erf)(const float* x, int64_t n, float* y);
  void (*gelu_tanh)(const float* x, int64_t n, float* y);
  void (*add)(const float* a, const float* b, int64_t n, float* y);
  void (*mul)(const float* a, const float* b, int64_t n, float* y);
  void (*scale)(const float* x, float s, int64_t n, float* y);
  void (*fp16_to_fp32_row)(const uint16_t* x, int64_t n, float* y);
  void (*fp32_to_fp16_row)(const float* x, int64_t n, uint16_t* y);  // round to nearest even
  void (*bf16_to_fp32_row)(const uint16_t* x, int64_t n, float* y);
};

// The table of `level`; throws omni::Error if this CPU cannot run it.
const KernelTable& kernel_table(CpuLevel level);
// The table every function below uses (level cpu_level()).
const KernelTable& active();

// ---- Dot products (active level) ----
inline float dot_f32(const float* a, const float* b, int64_t n) { return active().dot_f32(a, b, n); }
inline float dot_f16(const uint16_t* a, const float* b, int64_t n) {
  return active().dot_f16(a, b, n);
}
inline float dot_bf16(const uint16_t* a, const float* b, int64_t n) {
  return active().dot_bf16(a, b, n);
}

// ---- Quantized activations ----

// Which activation format a weight type is multiplied with.
enum class ActFormat { kF32, kQ8, kQ8_K };
// Throws omni::Error for weight types matvec does not support.
ActFormat act_format(DType wtype);

// m rows of `cols` activations prepared for multiplication with `wtype` weights. Quantize once,
// reuse for every projection reading the same input (Q, K and V; gate and up).
class Activations {
 public:
  void quantize(DType wtype, const float* x, int64_t m, int64_t cols, const KernelTable& k);
  void quantize(DType wtype, const float* x, int64_t m, int64_t cols) {
    quantize(wtype, x, m, cols, active());
  }
  ActFormat format() const { return format_; }
  int64_t rows() const { return m_; }
  int64_t cols() const { return cols_; }
  // Row i for the table's dot function of this format: const float*, const Q8Row* or
  // const BlockQ8_K*.
  const void* row(int64_t i) const;

 private:
  ActFormat format_ = ActFormat::kF32;
  int64_t m_ = 0, cols_ = 0;
  const float* f32_ = nullptr;  // kF32: the caller's rows (not copied)
  std::vector<int8_t> qs_;
  std::vector<float> d_, sd_;
  std::vector<int32_t> sum_, neg_sum8_, neg_sum4x2_;
  std::vector<int8_t> qs_nib_;
  std::vector<Q8Row> q8_rows_;
  std::vector<BlockQ8_K> q8k_;
};

// dot of weight row `w` (n elements of wtype) with prepared activation row `act`.
using DotFn = float (*)(const void* w, const void* act, int64_t n);
DotFn dot_fn(DType wtype, const KernelTable& k);
// The level's 4x4 quantized tile for wtype, or nullptr (float types, levels without one).
KernelTable::QuantTileFn quant_tile_fn(DType wtype, const KernelTable& k);
// The level's 4-row single-token product for wtype, or nullptr.
KernelTable::QuantRows4Fn quant_rows4_fn(DType wtype, const KernelTable& k);
// The level's batched quantized product for wtype, or nullptr.
KernelTable::QuantGemmFn quant_gemm_fn(DType wtype, const KernelTable& k);

// ---- Matrix products (y = W x with W in GGUF layout: `rows` rows of `cols` elements) ----

// y[r] = sum_c W[r][c] * x[c] for r < rows. pool == nullptr: ThreadPool::global().
void matvec(DType wtype, const void* w, int64_t rows, int64_t cols, const float* x, float* y,
            ThreadPool* pool = nullptr);
// Y[i][r] = sum_c W[r][c] * X[i][c] for i < m (X is m x cols, Y is m x rows, both row-major).
// Weights are read once per tile of rows that stays in cache while every activation row passes
// over it, so batched prompts run compute bound.
void matmul(DType wtype, const void* w, int64_t rows, int64_t cols, const float* x, int64_t m,
            float* y, ThreadPool* pool = nullptr);
// Same with activations prepared by Activations::quantize for this wtype (and the active
// table); y has act.rows() rows of `rows` floats.
void matmul(DType wtype, const void* w, int64_t rows, const Activations& act, float* y,
            ThreadPool* pool = nullptr);

// ---- Elementwise (active level) ----

// y = x / sqrt(mean(x^2) + eps) * w   (w == nullptr: no weight).
inline void rms_norm(const float* x, const float* w, float eps, int64_t n, float* y) {
  active().rms_norm(x, w, eps, n, y);
}
// y = (x - mean) / sqrt(var + eps) * w + b   (w, b optional).
inline void layer_norm(const float* x, const float* w, const float* b, float eps, int64_t n,
                       float* y) {
  active().layer_norm(x, w, b, eps, n, y);
}
// In place: x = softmax(x * scale + mask) (mask optional, may hold -inf). An all -inf row
// becomes all zeros.
inline void softmax(float* x, int64_t n, float scale = 1.0f, const float* mask = nullptr) {
  active().softmax(x, n, scale, mask);
}

// Attention output for 4 query rows sharing one V: out[a * os + i] = sum_{s < len}
// p[a * ps + s] * v[s * vs + i] for a < 4, i < n (each sum in order of s). Rows with fewer
// valid positions (causal) pass zeros past their end.
inline void attn_pv4(const float* p, int64_t ps, int64_t len, const float* v, int64_t vs,
                     int64_t n, float* out, int64_t os) {
  active().attn_pv4(p, ps, len, v, vs, n, out, os);
}

// cos/sin tables for one position as llama.cpp computes them: theta_i = pos * freq_scale *
// freq_base^(-2i/n_rot) for i < n_rot/2 (theta advanced by repeated multiplication in float,
// as ggml does, so angles match it bit for bit).
void rope_cache(float pos, int64_t n_rot, float freq_base, float freq_scale, float* cos,
                float* sin);
// Rotates the first n_rot dims of each of n_heads heads (head_dim floats each) in place;
// dims past n_rot are left alone (partial rotary).
inline void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeMode mode,
                 const float* cos, const float* sin) {
  active().rope(x, n_heads, head_dim, n_rot, mode, cos, sin);
}

inline void silu(const float* x, int64_t n, float* y) { active().silu(x, n, y); }
// y = silu(a) * b
inline void swiglu(const float* a, const float* b, int64_t n, float* y) {
  active().swiglu(a, b, n, y);
}
inline void gelu_erf(const float* x, int64_t n, float* y) { active().gelu_erf(x, n, y); }
inline void gelu_tanh(const float* x, int64_t n, float* y) { active().gelu_tanh(x, n, y); }
inline void add(const float* a, const float* b, int64_t n, float* y) { active().add(a, b, n, y); }
inline void mul(const float* a, const float* b, int64_t n, float* y) { active().mul(a, b, n, y); }
inline void scale(const float* x, float s, int64_t n, float* y) { active().scale(x, s, n, y); }
// Broadcast forms: a is rows x n, b is one row of n applied to every row.
void add_rows(const float* a, const float* b, int64_t rows, int64_t n, float* y);
void mul_rows(const float* a, const float* b, int64_t rows, int64_t n, float* y);

// Row conversions, same bits as the scalar converters in core/half.h.
inline void fp16_to_fp32_row(const uint16_t* x, int64_t n, float* y) {
  active().fp16_to_fp32_row(x, n, y);
}
inline void fp32_to_fp16_row(const float* x, int64_t n, uint16_t* y) {
  active().fp32_to_fp16_row(x, n, y);
}
inline void bf16_to_fp32_row(const uint16_t* x, int64_t n, float* y) {
  active().bf16_to_fp32_row(x, n, y);
}

}  // namespace kernels
}  // namespace omni
