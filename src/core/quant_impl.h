// Internals shared by the quantization sources (quant.cc, dequant.cc, quantize_*.cc): block
// access, ggml's rounding helpers, scale unpacking and the per-type function tables.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "core/half.h"
#include "core/quant_blocks.h"

// Bit-exactness with ggml needs every multiply and add rounded separately: no contraction into
// fused multiply-adds, whatever -march the build uses (ggml's own reference code is built for
// baseline x86-64, without FMA). GCC contracts C++ by default as soon as FMA is available. Only
// the quantization sources include this header, so the pragmas stay confined to them.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace omni::quant_impl {

// Blocks sit at arbitrary byte offsets (18-byte Q4_0 blocks in a file, caller buffers), so they
// are copied in and out instead of being accessed through a cast pointer.
template <class Block>
inline Block load(const void* base, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const uint8_t*>(base) + i * static_cast<int64_t>(sizeof(Block)),
              sizeof(Block));
  return b;
}

template <class Block>
inline void store(void* base, int64_t i, const Block& b) {
  std::memcpy(static_cast<uint8_t*>(base) + i * static_cast<int64_t>(sizeof(Block)), &b,
              sizeof(Block));
}

inline float h2f(uint16_t h) { return fp16_to_fp32(h); }
inline uint16_t f2h(float f) { return fp32_to_fp16(f); }

// ggml's nearest_int: adding 1.5 * 2^23 makes the FPU round to an integer (ties to even) in the
// low mantissa bits. Exact for |f| <= 2^22; for other inputs it returns the same garbage as ggml
// but never invokes undefined behaviour.
inline int nearest_int(float f) {
  const float v = f + 12582912.f;
  return static_cast<int>(std::bit_cast<uint32_t>(v) & 0x007fffffu) - 0x00400000;
}

// C's float -> int truncation as x86 performs it (cvttss2si): NaN and out-of-range inputs give
// INT_MIN instead of undefined behaviour. Narrowing the result to 8 bits afterwards matches what
// ggml's `(int8_t)(float)` casts compile to.
inline int32_t trunc_i32(float v) {
  if (v >= -2147483648.0f && v < 2147483648.0f) return static_cast<int32_t>(v);
  return INT32_MIN;
}

// ggml's MAX(a, b) macro, a > b ? a : b, which differs from std::max when b is NaN.
inline float max_like_ggml(float a, float b) { return a > b ? a : b; }

inline constexpr float kGroupMaxEps = 1e-15f;

// The 16 six-bit Q3_K scales: low nibbles in bytes 0..7 (scales 0..7 low, 8..15 high nibble),
// the top two bits in bytes 8..11 (scale j uses bits 2*(j/4) of byte 8 + j%4).
inline int q3k_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

// Six-bit scale and min of sub-block j (0..7) in the 12-byte Q4_K/Q5_K scales array.
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// n = number of blocks.
using DeqFn = void (*)(const void* src, float* dst, int64_t nb);
using QuantFn = void (*)(const float* src, void* dst, int64_t nb);

// nullptr when the source does not handle the type.
DeqFn dequantizer(DType t);        // dequant.cc
QuantFn legacy_quantizer(DType t); // quantize_legacy.cc: Q4_0..Q8_1
QuantFn k_quantizer(DType t);      // quantize_k.cc: Q2_K..Q8_K
QuantFn iq4_quantizer(DType t);    // quantize_iq4.cc: IQ4_NL, IQ4_XS

}  // namespace omni::quant_impl
