// Internal to the kernels: how the per-level files hand their functions to kernels.cc, and the
// block-format helpers they share. Not part of the public API.
#pragma once

#include <cstdint>

#include "core/kernels.h"

namespace omni::kernels::detail {

// The complete scalar table (baseline x86-64; the compiler may use SSE2).
void fill_scalar(KernelTable& t);
// Override entries of a table already holding the lower level with faster versions. Only
// called when the CPU supports the level.
void fill_avx2(KernelTable& t);
void fill_avx512(KernelTable& t);

// Q4_K / Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes.
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// All eight scales and mins of a Q4_K / Q5_K block.
inline void unpack_scales_k4(const uint8_t* q, uint8_t sc[8], uint8_t m[8]) {
  for (int j = 0; j < 8; ++j) scale_min_k4(j, q, &sc[j], &m[j]);
}

// Same as unpack_scales_k4 with word operations: the eight scales as bytes of *sc, the eight
// mins as bytes of *m (byte j = sub-block j).
inline void unpack_scales_k4_words(const uint8_t* q, uint64_t* sc, uint64_t* m) {
  uint32_t u0, u1, u2;
  __builtin_memcpy(&u0, q, 4);
  __builtin_memcpy(&u1, q + 4, 4);
  __builtin_memcpy(&u2, q + 8, 4);
  const uint32_t sc_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | ((u0 >> 2) & 0x30303030u);
  const uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 2) & 0x30303030u);
  *sc = sc_lo | (static_cast<uint64_t>(sc_hi) << 32);
  *m = m_lo | (static_cast<uint64_t>(m_hi) << 32);
}

}  // namespace omni::kernels::detail
