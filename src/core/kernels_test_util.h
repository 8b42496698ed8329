// Test-side helpers for the kernel tests: random data, random quantized blocks, and reference
// decoders written from the block layouts (independently of the kernels) that produce exact
// double values.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/dtype.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/quant_blocks.h"

namespace omni::kernels::testing {

// Every level this CPU can run.
inline std::vector<CpuLevel> levels() {
  std::vector<CpuLevel> v;
  for (int l = 0; l <= static_cast<int>(cpu_max_level()); ++l) v.push_back(static_cast<CpuLevel>(l));
  return v;
}

inline std::vector<float> random_floats(std::mt19937& rng, int64_t n, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

// Random bytes for a row of n elements of quantized type t, with every fp16 scale replaced by a
// finite value of realistic size (random bytes would give NaN and inf scales).
inline std::vector<uint8_t> random_quant_row(std::mt19937& rng, DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  const int64_t nb = n / info.block_size;
  std::vector<uint8_t> row(static_cast<size_t>(nb * info.type_size));
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : row) b = static_cast<uint8_t>(byte(rng));
  std::uniform_real_distribution<float> scale(0.001f, 0.02f);
  const auto put = [](uint8_t* p, float v) {
    const uint16_t h = fp32_to_fp16(v);
    std::memcpy(p, &h, 2);
  };
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* p = row.data() + b * info.type_size;
    switch (t) {
      case DType::Q4_0: case DType::Q5_0: case DType::Q8_0:
        put(p, scale(rng) * (byte(rng) & 1 ? 1.f : -1.f));
        break;
      case DType::Q4_1: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K:
        put(p, scale(rng));
        put(p + 2, scale(rng) * (byte(rng) & 1 ? 1.f : -1.f));
        break;
      case DType::Q6_K:
        put(p + offsetof(BlockQ6_K, d), scale(rng));
        break;
      default: break;
    }
  }
  return row;
}

inline double h(uint16_t v) { return fp16_to_fp32(v); }

// Exact dequantization of one row (doubles; every value is exactly representable).
inline std::vector<double> dequant(DType t, const void* data, int64_t n) {
  std::vector<double> y(static_cast<size_t>(n));
  const auto* bytes = static_cast<const uint8_t*>(data);
  switch (t) {
    case DType::Q8_0:
      for (int64_t b = 0; b < n / 32; ++b) {
        BlockQ8_0 blk;
        std::memcpy(&blk, bytes + b * sizeof(blk), sizeof(blk));
        for (int i = 0; i < 32; ++i) y[b * 32 + i] = h(blk.d) * blk.qs[i];
      }
      break;
    case DType::Q4_0: case DType::Q4_1:
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* p = bytes + b * (t == DType::Q4_0 ? 18 : 20);
        uint16_t d, m = 0;
        std::memcpy(&d, p, 2);
        if (t == DType::Q4_1) std::memcpy(&m, p + 2, 2);
        const uint8_t* qs = p + (t == DType::Q4_0 ? 2 : 4);
        for (int i = 0; i < 16; ++i) {
          const int lo = qs[i] & 15, hi = qs[i] >> 4;
          if (t == DType::Q4_0) {
            y[b * 32 + i] = h(d) * (lo - 8);
            y[b * 32 + i + 16] = h(d) * (hi - 8);
          } else {
            y[b * 32 + i] = h(d) * lo + h(m);
            y[b * 32 + i + 16] = h(d) * hi + h(m);
          }
        }
      }
      break;
    case DType::Q5_0: case DType::Q5_1:
      for (int64_t b = 0; b < n / 32; ++b) {
        const bool one = t == DType::Q5_1;
        const uint8_t* p = bytes + b * (one ? 24 : 22);
        uint16_t d, m = 0;
        std::memcpy(&d, p, 2);
        if (one) std::memcpy(&m, p + 2, 2);
        const uint8_t* qh = p + (one ? 4 : 2);
        const uint8_t* qs = qh + 4;
        for (int i = 0; i < 32; ++i) {
          const int nib = i < 16 ? (qs[i] & 15) : (qs[i - 16] >> 4);
          const int q = nib | (((qh[i / 8] >> (i % 8)) & 1) << 4);
          y[b * 32 + i] = one ? h(d) * q + h(m) : h(d) * (q - 16);
        }
      }
      break;
    case DType::Q4_K: case DType::Q5_K:
      for (int64_t b = 0; b < n / 256; ++b) {
        const bool five = t == DType::Q5_K;
        const uint8_t* p = bytes + b * (five ? 176 : 144);
        uint16_t d, dmin;
        std::memcpy(&d, p, 2);
        std::memcpy(&dmin, p + 2, 2);
        const uint8_t* sc = p + 4;
        const uint8_t* qh = p + 16;
        const uint8_t* qs = p + (five ? 48 : 16);
        for (int e = 0; e < 256; ++e) {
          const int sub = e / 32, chunk = e / 64, l = e % 32;
          const int byte = qs[32 * chunk + l];
          int q = (sub % 2 == 0) ? (byte & 15) : (byte >> 4);
          if (five) q |= ((qh[l] >> sub) & 1) << 4;
          int s, m;
          if (sub < 4) {
            s = sc[sub] & 63;
            m = sc[sub + 4] & 63;
          } else {
            s = (sc[sub + 4] & 15) | ((sc[sub - 4] >> 6) << 4);
            m = (sc[sub + 4] >> 4) | ((sc[sub] >> 6) << 4);
          }
          y[b * 256 + e] = h(d) * s * q - h(dmin) * m;
        }
      }
      break;
    case DType::Q6_K:
      for (int64_t b = 0; b < n / 256; ++b) {
        const uint8_t* p = bytes + b * 210;
        const uint8_t* ql = p;
        const uint8_t* qh = p + 128;
        const auto* sc = reinterpret_cast<const int8_t*>(p + 192);
        uint16_t d;
        std::memcpy(&d, p + 208, 2);
        for (int half = 0; half < 2; ++half) {
          for (int l = 0; l < 32; ++l) {
            const uint8_t* L = ql + 64 * half;
            const uint8_t H = qh[32 * half + l];
            const int q[4] = {(L[l] & 15) | ((H & 3) << 4), (L[l + 32] & 15) | (((H >> 2) & 3) << 4),
                              (L[l] >> 4) | (((H >> 4) & 3) << 4), (L[l + 32] >> 4) | (((H >> 6) & 3) << 4)};
            for (int k = 0; k < 4; ++k) {
              const int e = 128 * half + 32 * k + l;
              y[b * 256 + e] = h(d) * sc[e / 16] * (q[k] - 32);
            }
          }
        }
      }
      break;
    default: break;
  }
  return y;
}

}  // namespace omni::kernels::testing
