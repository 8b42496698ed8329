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
  EXPECT_NE(error_of([&] { quantize_row(DType::IQ4_NL, x, buf, 32); }).find("iq4_nl"),
            std::string::npos);
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
