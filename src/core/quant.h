// Scalar reference (de)quantization of ggml's tensor formats, bit-exact with ggml.
//
// Dequantization reproduces ggml's dequantize_row_* float for float (same operation order, no
// fused multiply-add). Quantization reproduces ggml's *reference* quantizers, the ones
// llama-quantize uses when no importance matrix is given, byte for byte. Faster kernels
// elsewhere are checked against these.
//
// Source and destination buffers need no particular alignment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"
#include "core/quant_blocks.h"

namespace omni {

// True when dequantize_row / quantize_row support the type.
bool can_dequantize(DType t);
bool can_quantize(DType t);

// Converts n elements of type t (row_bytes(t, n) bytes at src) to float. n must be a
// non-negative multiple of the type's block size, and the type supported (F32, F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q8_K, IQ4_NL, IQ4_XS); otherwise throws omni::Error
// naming the type.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// A tensor of `rows` rows of `row_len` elements each, rows stored back to back.
void dequantize_tensor(DType t, const void* src, float* dst, int64_t rows, int64_t row_len);

// Like dequantize_tensor, but checks that `bytes` holds exactly the tensor (omni::Error if not).
std::vector<float> to_f32(DType t, std::span<const uint8_t> bytes, int64_t rows, int64_t row_len);

// Quantizes n floats into row_bytes(t, n) bytes at dst and returns that size. Supported: F32,
// F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL,
// IQ4_XS, each exactly as llama-quantize does it without an importance matrix (ggml's reference
// quantizers; for IQ4_NL ggml's quantize_iq4_nl, which tries 7 more scales than its _ref).
// Throws omni::Error for other types or an n that is not a multiple of the block size.
size_t quantize_row(DType t, const float* src, void* dst, int64_t n);

// `rows` rows of `row_len` floats; returns the bytes written (rows * row_bytes).
size_t quantize_tensor(DType t, const float* src, void* dst, int64_t rows, int64_t row_len);

// Activation quantizers for the dot-product kernels (ggml's quantize_row_q8_0_ref /
// quantize_row_q8_K_ref): llama.cpp quantizes the activations to Q8_0 for Q4_0/Q8_0 weights and
// to Q8_K (with per-16 sums `bsums`) for K-quant weights. n must be a multiple of 32 resp. 256.
// Note: on x86 llama.cpp's CPU backend quantizes activations with a SIMD quantize_row_q8_0 that
// is not the reference: it scales by 127/amax (not 1/(amax/127)) and rounds ties to even (not
// away from zero), so a few quants can differ by one from these. Its Q8_K path is the reference.
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void quantize_row_q8_K(const float* x, BlockQ8_K* y, int64_t n);

}  // namespace omni
