// Internal: the AVX-512 lookup of vision/gelu_table.h on 16 floats in registers, for fused
// epilogues (vision/packed_gemm.cc applies it before its store, so the activation never reads
// back a row it has just written; that reload stalled on the store missing the cache).
// Include only from code compiled for, or targeted at, AVX-512F.
#pragma once

#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>

namespace omni::vision::detail {

// The f16 result tables of gelu_tanh_f16_table / quick_gelu_f16_table: 65536 entries indexed by
// the input's f16 bits, plus one padding entry (a 4-byte gather reads the last result).
const uint16_t* gelu_tanh_f16_results();
const uint16_t* quick_gelu_f16_results();

// Rounds v to f16 (nearest even), gathers the results (4 bytes at 2 * index: the low half is the
// entry) and widens them. clamp: ggml's tanh-GELU range (0 at or below -10, v at or above 10,
// NaN passes through). Lanes outside `k` are 0 and read nothing.
__attribute__((target("avx512f"), always_inline)) inline __m512 gelu_lookup16(
    const uint16_t* t, bool clamp, __m512 v, __mmask16 k = 0xFFFF) {
  const __m512i idx = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  const __m512i r = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, idx, t, 2);
  __m512 y = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(r));
  if (clamp) {
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(v, _mm512_set1_ps(10.0f), _CMP_GE_OQ), v);
    y = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_set1_ps(-10.0f), _CMP_GT_OQ) |
                                _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q),
                            y);
  }
  return y;
}

}  // namespace omni::vision::detail

#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
