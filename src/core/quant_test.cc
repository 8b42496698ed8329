#include "core/quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "testing/refdata.h"

namespace omni {
namespace {

using Bytes = std::vector<uint8_t>;

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// A random finite half in [2^-10, 2^2) with a random sign (or only positive).
uint16_t random_half(std::mt19937& rng, bool allow_negative = true) {
  std::uniform_int_distribution<int> exp(5, 16), mant(0, 1023), sign(0, 1);
  const int s = allow_negative ? sign(rng) : 0;
  return static_cast<uint16_t>((s << 15) | (exp(rng) << 10) | mant(rng));
}

Bytes random_bytes(std::mt19937& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// Dequantizes `nblocks` random blocks (made valid by `fix`, which sets the scale fields) and
// checks every element, bit for bit, against `expect(block bytes, element index)`, a direct
// reading of the format's layout written independently of quant.cc.
void check_dequant(DType t, int nblocks, const std::function<void(uint8_t*, std::mt19937&)>& fix,
                   const std::function<float(const uint8_t*, int)>& expect) {
  const auto& info = dtype_info(t);
  std::mt19937 rng(1234u + static_cast<uint32_t>(t));
  Bytes data = random_bytes(rng, static_cast<size_t>(nblocks) * info.type_size);
  for (int b = 0; b < nblocks; ++b) fix(data.data() + static_cast<size_t>(b) * info.type_size, rng);
  const int64_t n = static_cast<int64_t>(nblocks) * info.block_size;
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, data.data(), out.data(), n);
  int bad = 0;
  for (int64_t i = 0; i < n && bad < 10; ++i) {
    const uint8_t* blk = data.data() + (i / info.block_size) * info.type_size;
    const float want = expect(blk, static_cast<int>(i % info.block_size));
    if (bits(out[static_cast<size_t>(i)]) != bits(want)) {
      ++bad;
      ADD_FAILURE() << info.name << " element " << i << ": got " << out[static_cast<size_t>(i)]
                    << " want " << want;
    }
  }
}

float f(int v) { return static_cast<float>(v); }

// ---- (a) dequantization of hand-built blocks, element by element ----------------------------

TEST(Dequant, Q4_0) {
  // 2-byte half d, then 16 bytes: element e < 16 in the low nibble of byte e, e >= 16 in the
  // high nibble of byte e - 16. Value (q - 8) * d.
  check_dequant(
      DType::Q4_0, 64, [](uint8_t* b, std::mt19937& r) { put16(b, random_half(r)); },
      [](const uint8_t* b, int e) {
        const int q = e < 16 ? (b[2 + e] & 15) : (b[2 + e - 16] >> 4);
        return f(q - 8) * fp16_to_fp32(rd16(b));
      });
}

TEST(Dequant, Q4_1) {
  check_dequant(
      DType::Q4_1, 64,
      [](uint8_t* b, std::mt19937& r) {
        put16(b, random_half(r));
        put16(b + 2, random_half(r));
      },
      [](const uint8_t* b, int e) {
        const int q = e < 16 ? (b[4 + e] & 15) : (b[4 + e - 16] >> 4);
        return f(q) * fp16_to_fp32(rd16(b)) + fp16_to_fp32(rd16(b + 2));
      });
}

// Bit e of the 32-bit little-endian qh field.
int bit_of(const uint8_t* qh, int e) { return (qh[e / 8] >> (e % 8)) & 1; }

TEST(Dequant, Q5_0) {
  check_dequant(
      DType::Q5_0, 64, [](uint8_t* b, std::mt19937& r) { put16(b, random_half(r)); },
      [](const uint8_t* b, int e) {
        const int lo = e < 16 ? (b[6 + e] & 15) : (b[6 + e - 16] >> 4);
        const int q = lo + 16 * bit_of(b + 2, e);
        return f(q - 16) * fp16_to_fp32(rd16(b));
      });
}

TEST(Dequant, Q5_1) {
  check_dequant(
      DType::Q5_1, 64,
      [](uint8_t* b, std::mt19937& r) {
        put16(b, random_half(r));
        put16(b + 2, random_half(r));
      },
      [](const uint8_t* b, int e) {
        const int lo = e < 16 ? (b[8 + e] & 15) : (b[8 + e - 16] >> 4);
        const int q = lo + 16 * bit_of(b + 4, e);
        return f(q) * fp16_to_fp32(rd16(b)) + fp16_to_fp32(rd16(b + 2));
      });
}

TEST(Dequant, Q8_0) {
  check_dequant(
      DType::Q8_0, 64, [](uint8_t* b, std::mt19937& r) { put16(b, random_half(r)); },
      [](const uint8_t* b, int e) {
        return f(static_cast<int8_t>(b[2 + e])) * fp16_to_fp32(rd16(b));
      });
}

TEST(Dequant, Q8_1) {
  check_dequant(
      DType::Q8_1, 64,
      [](uint8_t* b, std::mt19937& r) {
        put16(b, random_half(r));
        put16(b + 2, random_half(r));
      },
      [](const uint8_t* b, int e) {
        return f(static_cast<int8_t>(b[4 + e])) * fp16_to_fp32(rd16(b));
      });
}

// The 2-bit fields of Q2_K / Q3_K: per 128 elements 32 bytes; element w (0..127) of the chunk
// sits in byte w % 32 at bit 2 * (w / 32).
int two_bits(const uint8_t* qs, int e) {
  const int chunk = e / 128, w = e % 128;
  return (qs[32 * chunk + w % 32] >> (2 * (w / 32))) & 3;
}

TEST(Dequant, Q2_K) {
  // scales[16], qs[64], d, dmin. Sub-block e / 16: scale low nibble, min high nibble.
  check_dequant(
      DType::Q2_K, 16,
      [](uint8_t* b, std::mt19937& r) {
        put16(b + 80, random_half(r));
        put16(b + 82, random_half(r));
      },
      [](const uint8_t* b, int e) {
        const uint8_t sc = b[e / 16];
        const float d = fp16_to_fp32(rd16(b + 80)), dmin = fp16_to_fp32(rd16(b + 82));
        return d * f(sc & 15) * f(two_bits(b + 16, e)) - dmin * f(sc >> 4);
      });
}

TEST(Dequant, Q3_K) {
  // hmask[32], qs[64], scales[12], d. Six-bit scale j: low 4 bits in byte j (j < 8) or the high
  // nibble of byte j - 8; top 2 bits at bit 2 * (j / 4) of byte 8 + j % 4. High quant bit of
  // element e: bit e / 32 of hmask[e % 32], clear means subtract 4.
  check_dequant(
      DType::Q3_K, 16, [](uint8_t* b, std::mt19937& r) { put16(b + 108, random_half(r)); },
      [](const uint8_t* b, int e) {
        const uint8_t* s = b + 96;
        const int j = e / 16;
        const int lo = j < 8 ? (s[j] & 15) : (s[j - 8] >> 4);
        const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        const int scale = lo + 16 * hi - 32;
        const int hbit = (b[e % 32] >> (e / 32)) & 1;
        const int q = two_bits(b + 32, e) - (hbit ? 0 : 4);
        return fp16_to_fp32(rd16(b + 108)) * f(scale) * f(q);
      });
}

// Q4_K / Q5_K scales: 12 bytes holding eight 6-bit scales and mins.
void k4_scale_min(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) + 16 * (s[j - 4] >> 6);
    *m = (s[j + 4] >> 4) + 16 * (s[j] >> 6);
  }
}

TEST(Dequant, Q4_K) {
  // d, dmin, scales[12], qs[128]: per 64 elements 32 bytes, first 32 in the low nibbles.
  check_dequant(
      DType::Q4_K, 16,
      [](uint8_t* b, std::mt19937& r) {
        put16(b, random_half(r));
        put16(b + 2, random_half(r));
      },
      [](const uint8_t* b, int e) {
        int sc, m;
        k4_scale_min(b + 4, e / 32, &sc, &m);
        const uint8_t byte = b[16 + 32 * (e / 64) + e % 32];
        const int q = (e % 64) < 32 ? (byte & 15) : (byte >> 4);
        const float d = fp16_to_fp32(rd16(b)), dmin = fp16_to_fp32(rd16(b + 2));
        return d * f(sc) * f(q) - dmin * f(m);
      });
}

TEST(Dequant, Q5_K) {
  // d, dmin, scales[12], qh[32], qs[128]; the fifth bit of element e is bit e / 32 of qh[e % 32].
  check_dequant(
      DType::Q5_K, 16,
      [](uint8_t* b, std::mt19937& r) {
        put16(b, random_half(r));
        put16(b + 2, random_half(r));
      },
      [](const uint8_t* b, int e) {
        int sc, m;
        k4_scale_min(b + 4, e / 32, &sc, &m);
        const uint8_t byte = b[48 + 32 * (e / 64) + e % 32];
        const int lo = (e % 64) < 32 ? (byte & 15) : (byte >> 4);
        const int q = lo + 16 * ((b[16 + e % 32] >> (e / 32)) & 1);
        const float d = fp16_to_fp32(rd16(b)), dmin = fp16_to_fp32(rd16(b + 2));
        return d * f(sc) * f(q) - dmin * f(m);
      });
}

TEST(Dequant, Q6_K) {
  // ql[128], qh[64], scales[16] (int8), d. Per 128 elements: quarter k = w / 32 of the chunk
  // takes its low 4 bits from ql[64c + 32 (k % 2) + l] (low nibble for k < 2) and its top 2 bits
  // from qh[32c + l] at bit 2k. Scale = scales[e / 16].
  check_dequant(
      DType::Q6_K, 16, [](uint8_t* b, std::mt19937& r) { put16(b + 208, random_half(r)); },
      [](const uint8_t* b, int e) {
        const int c = e / 128, w = e % 128, k = w / 32, l = w % 32;
        const uint8_t lb = b[64 * c + 32 * (k % 2) + l];
        const int lo = k < 2 ? (lb & 15) : (lb >> 4);
        const int hi = (b[128 + 32 * c + l] >> (2 * k)) & 3;
        const int q = lo + 16 * hi - 32;
        const int scale = static_cast<int8_t>(b[192 + e / 16]);
        return fp16_to_fp32(rd16(b + 208)) * f(scale) * f(q);
      });
}

TEST(Dequant, Q8_K) {
  check_dequant(
      DType::Q8_K, 8,
      [](uint8_t* b, std::mt19937& r) {
        const float d = std::uniform_real_distribution<float>(-2.f, 2.f)(r);
        std::memcpy(b, &d, 4);
      },
      [](const uint8_t* b, int e) {
        float d;
        std::memcpy(&d, b, 4);
        return d * f(static_cast<int8_t>(b[4 + e]));
      });
}

constexpr int kNL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

TEST(Dequant, IQ4_NL) {
  check_dequant(
      DType::IQ4_NL, 64, [](uint8_t* b, std::mt19937& r) { put16(b, random_half(r)); },
      [](const uint8_t* b, int e) {
        const int q = e < 16 ? (b[2 + e] & 15) : (b[2 + e - 16] >> 4);
        return fp16_to_fp32(rd16(b)) * f(kNL[q]);
      });
}

TEST(Dequant, IQ4_XS) {
  // d, scales_h (u16), scales_l[4], qs[128]. Sub-block j = e / 32: 6-bit scale = nibble j % 2 of
  // scales_l[j / 2] + 16 * bits 2j..2j+1 of scales_h, minus 32.
  check_dequant(
      DType::IQ4_XS, 16, [](uint8_t* b, std::mt19937& r) { put16(b, random_half(r)); },
      [](const uint8_t* b, int e) {
        const int j = e / 32, w = e % 32;
        const int ls = ((b[4 + j / 2] >> (4 * (j % 2))) & 15) + 16 * ((rd16(b + 2) >> (2 * j)) & 3);
        const uint8_t byte = b[8 + 16 * j + w % 16];
        const int q = w < 16 ? (byte & 15) : (byte >> 4);
        return fp16_to_fp32(rd16(b)) * f(ls - 32) * f(kNL[q]);
      });
}

TEST(Dequant, PlainFloats) {
  const std::vector<float> x = {0.f, -1.5f, 3.14159f, 65504.f, 1e-8f, -0.f};
  std::vector<float> out(x.size());
  dequantize_row(DType::F32, x.data(), out.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(out, x);
  std::vector<uint16_t> h(x.size()), bf(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    h[i] = fp32_to_fp16(x[i]);
    bf[i] = fp32_to_bf16(x[i]);
  }
  dequantize_row(DType::F16, h.data(), out.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(bits(out[i]), bits(fp16_to_fp32(h[i])));
  dequantize_row(DType::BF16, bf.data(), out.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(bits(out[i]), static_cast<uint32_t>(bf[i]) << 16) << i;
  // and quantize_row back gives the same halves
  std::vector<uint16_t> h2(x.size());
  EXPECT_EQ(quantize_row(DType::F16, x.data(), h2.data(), static_cast<int64_t>(x.size())),
            2 * x.size());
  EXPECT_EQ(h2, h);
  EXPECT_EQ(quantize_row(DType::BF16, x.data(), h2.data(), static_cast<int64_t>(x.size())),
            2 * x.size());
  EXPECT_EQ(h2, bf);
}

TEST(Dequant, UnalignedSource) {
  std::mt19937 rng(7);
  Bytes raw = random_bytes(rng, 1 + 4 * 144);
  for (int b = 0; b < 4; ++b) {
    put16(raw.data() + 1 + 144 * b, random_half(rng));
    put16(raw.data() + 3 + 144 * b, random_half(rng));
  }
  Bytes aligned(raw.begin() + 1, raw.end());
  std::vector<float> a(1024), u(1024);
  dequantize_row(DType::Q4_K, aligned.data(), a.data(), 1024);
  dequantize_row(DType::Q4_K, raw.data() + 1, u.data(), 1024);
  EXPECT_EQ(0, std::memcmp(a.data(), u.data(), a.size() * 4));
}

TEST(Dequant, TensorAndToF32) {
  std::mt19937 rng(3);
  Bytes data = random_bytes(rng, 3 * 2 * 34);  // 3 rows of 64 Q8_0 elements
  for (int b = 0; b < 6; ++b) put16(data.data() + 34 * b, random_half(rng));
  std::vector<float> row(192), tensor(192);
  dequantize_row(DType::Q8_0, data.data(), row.data(), 192);
  dequantize_tensor(DType::Q8_0, data.data(), tensor.data(), 3, 64);
  EXPECT_EQ(row, tensor);
  EXPECT_EQ(to_f32(DType::Q8_0, data, 3, 64), row);
  EXPECT_THROW(to_f32(DType::Q8_0, std::span(data).first(data.size() - 1), 3, 64), Error);
  EXPECT_THROW(to_f32(DType::Q8_0, data, 4, 48), Error);  // 48: not whole blocks
}

// ---- (b) quantize -> dequantize error bounds on random data ----------------------------------

// 256-element blocks, each with its own scale 10^(min_exp + b % n_exp) and distribution.
std::vector<float> random_data(uint32_t seed, size_t n, int min_exp = -4, int n_exp = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uni(-1.f, 3.f);
  std::vector<float> x(n);
  for (size_t b = 0; b < n / 256; ++b) {
    // A different scale and distribution per 256 elements: weights-like, wide, skewed.
    const float scale = std::pow(10.f, static_cast<float>(min_exp + static_cast<int>(b) % n_exp));
    for (size_t i = 0; i < 256; ++i) {
      x[256 * b + i] = scale * (b % 3 == 2 ? uni(rng) : normal(rng));
    }
  }
  return x;
}

std::vector<float> round_trip(DType t, const std::vector<float>& x, Bytes* q = nullptr) {
  Bytes buf(*row_bytes(t, x.size()));
  EXPECT_EQ(quantize_row(t, x.data(), buf.data(), static_cast<int64_t>(x.size())), buf.size());
  std::vector<float> y(x.size());
  dequantize_row(t, buf.data(), y.data(), static_cast<int64_t>(x.size()));
  if (q) *q = std::move(buf);
  return y;
}

// Worst rounding error of v to half: half an ulp, 2^-11 relative for normal halves, 2^-25
// absolute in the subnormal range (tiny blocks get subnormal scales).
float half_err(float v) { return std::max(std::fabs(v) / 2048, 1.0f / 33554432); }

// Legacy 32-element formats: per-block worst case, derived from the quantizer.
TEST(QuantRoundTrip, LegacyFormatsWithinTheoreticalBound) {
  const auto x = random_data(11, 64 * 256);
  for (DType t : {DType::Q8_0, DType::Q8_1, DType::Q4_0, DType::Q5_0, DType::Q4_1, DType::Q5_1}) {
    const auto y = round_trip(t, x);
    float worst = 0;  // error / bound
    for (size_t b = 0; b < x.size() / 32; ++b) {
      float amax = 0, mn = x[32 * b], mx = x[32 * b];
      for (size_t i = 32 * b; i < 32 * b + 32; ++i) {
        amax = std::max(amax, std::fabs(x[i]));
        mn = std::min(mn, x[i]);
        mx = std::max(mx, x[i]);
      }
      float bound = 0;
      switch (t) {
        // step d = amax/127: rounding error d/2, plus |q| <= 127 times the half rounding of d.
        case DType::Q8_0:
        case DType::Q8_1: bound = amax / 127 * 0.5f + 127 * half_err(amax / 127); break;
        // d = -max/8 maps the extreme to -8; the opposite extreme is clamped to 7: one full step.
        case DType::Q4_0: bound = amax / 8 + 8 * half_err(amax / 8); break;
        case DType::Q5_0: bound = amax / 16 + 16 * half_err(amax / 16); break;
        // d = range/15 (31), offset min: half a step, plus half rounding of d and of min.
        case DType::Q4_1: bound = (mx - mn) / 30 + 15 * half_err((mx - mn) / 15) + half_err(mn); break;
        case DType::Q5_1: bound = (mx - mn) / 62 + 31 * half_err((mx - mn) / 31) + half_err(mn); break;
        default: break;
      }
      bound = bound * 1.0001f + 1e-30f;
      for (size_t i = 32 * b; i < 32 * b + 32; ++i) {
        worst = std::max(worst, std::fabs(x[i] - y[i]) / bound);
      }
    }
    EXPECT_LE(worst, 1.0f) << dtype_name(t);
    EXPECT_GT(worst, 0.3f) << dtype_name(t) << ": bound far too loose to mean anything";
  }
}

// Q8_K keeps a float scale: error at most half a step of max/127.
TEST(QuantRoundTrip, Q8KWithinHalfStep) {
  const auto x = random_data(12, 32 * 256);
  const auto y = round_trip(DType::Q8_K, x);
  for (size_t b = 0; b < x.size() / 256; ++b) {
    float amax = 0;
    for (size_t i = 256 * b; i < 256 * b + 256; ++i) amax = std::max(amax, std::fabs(x[i]));
    for (size_t i = 256 * b; i < 256 * b + 256; ++i) {
      ASSERT_LE(std::fabs(x[i] - y[i]), amax / 127 * 0.5f * 1.0001f) << i;
    }
  }
}

// K-quants: each element decodes as step * q - offset with per-sub-block step/offset. After the
// scales are fixed, ggml re-picks every quant as the nearest level, so no other level of the
// element's sub-block may be closer to x; and the overall error must be small.
struct KLevels {
  float step, offset;
  int qmin, qmax;
};

KLevels k_levels(DType t, const uint8_t* b, int e) {
  switch (t) {
    case DType::Q2_K: {
      const uint8_t sc = b[e / 16];
      return {fp16_to_fp32(rd16(b + 80)) * f(sc & 15), fp16_to_fp32(rd16(b + 82)) * f(sc >> 4), 0, 3};
    }
    case DType::Q3_K: {
      const uint8_t* s = b + 96;
      const int j = e / 16;
      const int lo = j < 8 ? (s[j] & 15) : (s[j - 8] >> 4);
      const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
      return {fp16_to_fp32(rd16(b + 108)) * f(lo + 16 * hi - 32), 0.f, -4, 3};
    }
    case DType::Q4_K:
    case DType::Q5_K: {
      int sc, m;
      k4_scale_min(b + 4, e / 32, &sc, &m);
      return {fp16_to_fp32(rd16(b)) * f(sc), fp16_to_fp32(rd16(b + 2)) * f(m), 0,
              t == DType::Q4_K ? 15 : 31};
    }
    case DType::Q6_K:
      return {fp16_to_fp32(rd16(b + 208)) * f(static_cast<int8_t>(b[192 + e / 16])), 0.f, -32, 31};
    default: return {0, 0, 0, 0};
  }
}

TEST(QuantRoundTrip, KQuantsPickNearestLevelAndStayAccurate) {
  // Scales 0.01..100 for the RMS check (smaller blocks get subnormal half scales, see below).
  const auto x = random_data(13, 40 * 256, -2, 5);
  // Relative RMS error bounds on this data: the error of a plain min/max uniform quantizer with
  // the same bits per element (range / (2^bits - 1) / sqrt(12)) would be about 0.47 (2-bit),
  // 0.2 (3), 0.1 (4), 0.05 (5), 0.025 (6) of the block's standard deviation; ggml's fitted
  // scales do better than that on Gaussian data even with their 6/4-bit scale quantization.
  const std::pair<DType, double> types[] = {{DType::Q2_K, 0.47}, {DType::Q3_K, 0.2},
                                            {DType::Q4_K, 0.1},  {DType::Q5_K, 0.05},
                                            {DType::Q6_K, 0.025}};
  for (const auto& [t, rel_rms] : types) {
    Bytes q;
    const auto y = round_trip(t, x, &q);
    const size_t ts = dtype_info(t).type_size;
    int not_nearest = 0;
    double worst_rel = 0;
    for (size_t b = 0; b < x.size() / 256; ++b) {
      double se = 0, sx = 0, sx2 = 0;
      for (int e = 0; e < 256; ++e) {
        const size_t i = 256 * b + static_cast<size_t>(e);
        const KLevels lv = k_levels(t, q.data() + b * ts, e);
        se += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
        sx += x[i];
        sx2 += static_cast<double>(x[i]) * x[i];
        if (lv.step == 0) continue;  // sub-block scale rounded to 0: quants never re-picked
        const float err = std::fabs(x[i] - y[i]);
        for (int l = lv.qmin; l <= lv.qmax; ++l) {
          const float other = std::fabs(x[i] - (lv.step * f(l) - lv.offset));
          if (other < err - 1e-4f * std::fabs(lv.step)) ++not_nearest;
        }
      }
      const double var = sx2 / 256 - (sx / 256) * (sx / 256);
      worst_rel = std::max(worst_rel, std::sqrt(se / 256 / var));
    }
    EXPECT_EQ(not_nearest, 0) << dtype_name(t);
    EXPECT_LT(worst_rel, rel_rms) << dtype_name(t);
  }
}

// IQ4: 16 symmetric non-linear levels with a fitted scale per 32 elements. Bound: a symmetric
// uniform 4-bit grid over +-amax, whose noise (2 amax / 15) / sqrt(12) is 0.1 sigma on the
// skewed uniform [-1, 3) blocks (the worst case here), plus margin.
TEST(QuantRoundTrip, IQ4Accurate) {
  const auto x = random_data(15, 40 * 256, -2, 5);
  for (DType t : {DType::IQ4_NL, DType::IQ4_XS}) {
    const auto y = round_trip(t, x);
    double worst_rel = 0;
    for (size_t b = 0; b < x.size() / 256; ++b) {
      double se = 0, sx = 0, sx2 = 0;
      for (size_t i = 256 * b; i < 256 * b + 256; ++i) {
        se += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
        sx += x[i];
        sx2 += static_cast<double>(x[i]) * x[i];
      }
      const double var = sx2 / 256 - (sx / 256) * (sx / 256);
      worst_rel = std::max(worst_rel, std::sqrt(se / 256 / var));
    }
    EXPECT_LT(worst_rel, 0.12) << dtype_name(t);
  }
}

TEST(QuantRoundTrip, ZerosStayZero) {
  const std::vector<float> x(512, 0.0f);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q8_1,
                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K,
                  DType::IQ4_NL, DType::IQ4_XS}) {
    const auto y = round_trip(t, x);
    for (float v : y) ASSERT_EQ(std::fabs(v), 0.0f) << dtype_name(t);
  }
}

TEST(QuantRoundTrip, NonFiniteInputIsNotUndefined) {
  // Garbage in, garbage out, but no crash or undefined behaviour (run under UBSan).
  std::vector<float> x = random_data(14, 256);
  x[3] = std::nanf("");
  x[100] = INFINITY;
  x[200] = -INFINITY;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q8_1,
                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K,
                  DType::IQ4_NL, DType::IQ4_XS, DType::F16, DType::BF16}) {
    round_trip(t, x);
  }
}

// ---- ggml goldens: quantizer bytes and dequantized floats, bit for bit -------------------------

std::filesystem::path golden_dir() {
  return omni::testing::source_path("src/core/testdata/quant");
}

Bytes golden(const std::string& name) {
  const auto p = golden_dir() / name;
  if (!std::filesystem::exists(p)) throw std::runtime_error("missing golden " + p.string());
  return testing::read_file(p.string());
}

std::vector<float> golden_f32(const std::string& name) {
  const Bytes b = golden(name);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}

// Index of the first differing block, or -1.
int64_t first_diff_block(const Bytes& a, const Bytes& b, size_t block_bytes) {
  if (a.size() != b.size()) return -2;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return static_cast<int64_t>(i / block_bytes);
  }
  return -1;
}

class GgmlGoldenQuant : public ::testing::TestWithParam<DType> {};
class GgmlGoldenDequant : public ::testing::TestWithParam<DType> {};

TEST_P(GgmlGoldenQuant, MatchesGgmlBytes) {
  const DType t = GetParam();
  const std::string name(dtype_name(t));
  const std::vector<float> x = golden_f32("input.f32");
  ASSERT_EQ(x.size(), 3072u);
  const Bytes want = golden(name + ".bin");
  Bytes got(want.size());
  ASSERT_EQ(quantize_row(t, x.data(), got.data(), 3072), want.size());
  EXPECT_EQ(first_diff_block(got, want, dtype_info(t).type_size), -1) << name;
}

TEST_P(GgmlGoldenDequant, MatchesGgmlFloats) {
  const DType t = GetParam();
  const std::string name(dtype_name(t));
  const Bytes blocks = golden(name + ".bin");
  const std::vector<float> want = golden_f32("deq_" + name + ".f32");
  std::vector<float> got(want.size());
  dequantize_row(t, blocks.data(), got.data(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(bits(got[i]), bits(want[i])) << name << " element " << i;
  }
}

std::string type_param_name(const ::testing::TestParamInfo<DType>& p) {
  return std::string(dtype_name(p.param));
}

INSTANTIATE_TEST_SUITE_P(Types, GgmlGoldenQuant,
                         ::testing::Values(DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                                           DType::Q8_0, DType::Q8_1, DType::Q2_K, DType::Q3_K,
                                           DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K,
                                           DType::IQ4_NL, DType::IQ4_XS),
                         type_param_name);

// ggml has no Q8_1 dequantizer.
INSTANTIATE_TEST_SUITE_P(Types, GgmlGoldenDequant,
                         ::testing::Values(DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                                           DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                                           DType::Q5_K, DType::Q6_K, DType::Q8_K, DType::IQ4_NL,
                                           DType::IQ4_XS),
                         type_param_name);

TEST(GgmlGolden, ActivationQuantizersMatchGgml) {
  const std::vector<float> x = golden_f32("input.f32");
  std::vector<BlockQ8_0> q8_0(3072 / 32);
  quantize_row_q8_0(x.data(), q8_0.data(), 3072);
  const Bytes want0 = golden("q8_0.bin");
  EXPECT_EQ(0, std::memcmp(q8_0.data(), want0.data(), want0.size()));
  std::vector<BlockQ8_K> q8_K(3072 / 256);
  quantize_row_q8_K(x.data(), q8_K.data(), 3072);
  const Bytes wantK = golden("q8_K.bin");
  ASSERT_EQ(wantK.size(), q8_K.size() * sizeof(BlockQ8_K));
  EXPECT_EQ(0, std::memcmp(q8_K.data(), wantK.data(), wantK.size()));
  for (const auto& b : q8_K) {  // bsums are the sums of 16 quants
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += b.qs[16 * j + i];
      EXPECT_EQ(b.bsums[j], s);
    }
  }
}

// ---- ggml digests: 1024 blocks of procedurally generated input ------------------------------
// The same generator (integer hashing and exact double arithmetic, no libm) ran next to ggml's
// reference functions; the FNV-1a 64 digests of their outputs are recorded below (see
// testdata/quant/README.md). 262144 elements per type reach far more code paths than the
// stored goldens.

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uni() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  double bell() {  // Irwin-Hall(4) - 2; calls sequenced explicitly
    const double a = uni(), b = uni(), c = uni(), d = uni();
    return a + b + c + d - 2.0;
  }
};

std::vector<float> digest_input() {
  constexpr double kScales[8] = {1e-6, 1e-4, 1e-3, 0.02, 0.1, 1.0, 10.0, 1000.0};
  SplitMix r{20261128};
  std::vector<float> x(1024 * 256);
  for (size_t b = 0; b < 1024; ++b) {
    const int kind = static_cast<int>(r.next() % 6);
    const double scale = kScales[r.next() % 8];
    for (size_t i = 0; i < 256; ++i) {
      double v;
      switch (kind) {
        case 0: v = r.bell(); break;
        case 1: v = r.uni() * 2.0 - 1.0; break;
        case 2: v = r.uni() * 3.0 - 1.0; break;
        case 3: v = r.next() % 23 == 0 ? (r.uni() - 0.5) * 60.0 : r.bell(); break;
        case 4: v = r.next() % 3 == 0 ? 0.0 : r.bell(); break;
        default: v = static_cast<double>(static_cast<int64_t>(r.next() % 9) - 4) * 0.25; break;
      }
      x[256 * b + i] = static_cast<float>(v * scale);
    }
  }
  return x;
}

uint64_t fnv1a(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  return h;
}

TEST(GgmlDigest, QuantizeAndDequantizeMatchGgml) {
  const auto x = digest_input();
  ASSERT_EQ(fnv1a(x.data(), x.size() * 4), 0x82eff4a507b58aa0ULL) << "input generator changed";
  struct Want {
    DType t;
    uint64_t quant, dequant;  // dequant 0: ggml has no dequantizer
  };
  const Want wants[] = {
      {DType::Q4_0, 0xa6be28f205b1e153ULL, 0x86c4ee2162eeadf6ULL},
      {DType::Q4_1, 0x61c5063389fed277ULL, 0x4c18562660a2046eULL},
      {DType::Q5_0, 0x2075feed5c94d2c9ULL, 0x4ecce2e7e61949e9ULL},
      {DType::Q5_1, 0x267e9146d8731cbdULL, 0x4e242aa6e7f46216ULL},
      {DType::Q8_0, 0xbb46fd6a83f64682ULL, 0x4d5da6f6541d9804ULL},
      {DType::Q8_1, 0xc8012fd631dd8ccbULL, 0},
      {DType::Q2_K, 0x4072ea1b50748affULL, 0xfdcb727072694b9eULL},
      {DType::Q3_K, 0x439464a24624913cULL, 0xf3eefc9ffdc8ea02ULL},
      {DType::Q4_K, 0x0863b84da08b35a2ULL, 0xd2a6581c2ce1e77aULL},
      {DType::Q5_K, 0x71aa63003dfc9160ULL, 0x20df603b8a872bc0ULL},
      {DType::Q6_K, 0x11fc5aede9f6e33aULL, 0x2800be5ab177dd47ULL},
      {DType::Q8_K, 0xa2e4ac6d8a685853ULL, 0xba4caa364ca869fdULL},
      {DType::IQ4_NL, 0x122b90ae06ec798aULL, 0x661c554419641614ULL},
      {DType::IQ4_XS, 0x65b02f5904af326cULL, 0x66cce10889c41599ULL},
  };
  std::vector<float> y(x.size());
  for (const auto& w : wants) {
    Bytes q(*row_bytes(w.t, x.size()));
    quantize_row(w.t, x.data(), q.data(), static_cast<int64_t>(x.size()));
    EXPECT_EQ(fnv1a(q.data(), q.size()), w.quant) << dtype_name(w.t);
    if (w.dequant == 0) continue;
    dequantize_row(w.t, q.data(), y.data(), static_cast<int64_t>(y.size()));
    EXPECT_EQ(fnv1a(y.data(), y.size() * 4), w.dequant) << dtype_name(w.t);
  }
}

// ---- errors -----------------------------------------------------------------------------------

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Quant, UnsupportedTypesNameTheType) {
  float x[256] = {};
  uint8_t buf[1024] = {};
  for (DType t : {DType::IQ2_XXS, DType::IQ2_XS, DType::IQ3_XXS, DType::IQ1_S, DType::IQ3_S,
                  DType::IQ2_S, DType::IQ1_M, DType::TQ1_0, DType::TQ2_0, DType::I8, DType::I32,
                  DType::F64}) {
    const std::string name(dtype_name(t));
    EXPECT_FALSE(can_dequantize(t)) << name;
    EXPECT_NE(error_of([&] { dequantize_row(t, buf, x, 256); }).find(name), std::string::npos)
        << name;
    EXPECT_NE(error_of([&] { quantize_row(t, x, buf, 256); }).find(name), std::string::npos)
        << name;
  }
}

TEST(Quant, RowLengthMustBeWholeBlocks) {
  std::vector<float> x(512);
  std::vector<uint8_t> buf(4096);
  EXPECT_THROW(dequantize_row(DType::Q4_0, buf.data(), x.data(), 33), Error);
  EXPECT_THROW(dequantize_row(DType::Q4_K, buf.data(), x.data(), 128), Error);
  EXPECT_THROW(dequantize_row(DType::Q8_0, buf.data(), x.data(), -32), Error);
  EXPECT_THROW(quantize_row(DType::Q6_K, x.data(), buf.data(), 300), Error);
  EXPECT_THROW(dequantize_tensor(DType::Q4_K, buf.data(), x.data(), 4, 128), Error);
  EXPECT_THROW(quantize_tensor(DType::Q8_0, x.data(), buf.data(), 2, 48), Error);
  EXPECT_NE(error_of([&] { quantize_row(DType::Q6_K, x.data(), buf.data(), 300); }).find("256"),
            std::string::npos);
  EXPECT_EQ(quantize_row(DType::Q4_K, x.data(), buf.data(), 0), 0u);
}

}  // namespace
}  // namespace omni
