// Elementwise kernels at every level against double-precision references. Tolerances are
// relative to the reference and derived from the number of float roundings on each path.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/kernels.h"
#include "core/kernels_test_util.h"

namespace omni::kernels {
namespace {

using testing::levels;
using testing::random_floats;

const int64_t kSizes[] = {1, 2, 7, 16, 31, 33, 255, 257, 896, 4097};

#define FOR_EACH_LEVEL(k)                               \
  for (CpuLevel level_ : levels())                      \
    for (const KernelTable* k = &kernel_table(level_); k; k = nullptr)

TEST(KernelsElementwise, RmsNorm) {
  std::mt19937 rng(10);
  FOR_EACH_LEVEL(k) {
    for (int64_t n : kSizes) {
      const auto x = random_floats(rng, n, -4, 4), w = random_floats(rng, n);
      double ss = 0;
      for (float v : x) ss += static_cast<double>(v) * v;
      const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
      std::vector<float> y(x.size()), yn(x.size());
      k->rms_norm(x.data(), w.data(), 1e-6f, n, y.data());
      k->rms_norm(x.data(), nullptr, 1e-6f, n, yn.data());
      for (size_t i = 0; i < x.size(); ++i) {
        // inv rounded to float, then two products: 3 roundings (+ the double sum, negligible).
        const double r = x[i] * inv * w[i], rn = x[i] * inv;
        EXPECT_NEAR(y[i], r, 4e-7 * std::fabs(r) + 1e-30) << n << " " << cpu_level_name(level_);
        EXPECT_NEAR(yn[i], rn, 4e-7 * std::fabs(rn) + 1e-30);
      }
    }
  }
}

TEST(KernelsElementwise, LayerNorm) {
  std::mt19937 rng(11);
  FOR_EACH_LEVEL(k) {
    for (int64_t n : kSizes) {
      const auto x = random_floats(rng, n, -2, 3), w = random_floats(rng, n), b = random_floats(rng, n);
      double mean = 0;
      for (float v : x) mean += v;
      mean /= n;
      double var = 0;
      for (float v : x) var += (v - mean) * (v - mean);
      var /= n;
      const double inv = 1.0 / std::sqrt(var + 1e-5);
      std::vector<float> y(x.size());
      k->layer_norm(x.data(), w.data(), b.data(), 1e-5f, n, y.data());
      for (size_t i = 0; i < x.size(); ++i) {
        const double r = (x[i] - mean) * inv * w[i] + b[i];
        // The mean is rounded to float before x - mean, so the error scales with |x| + |mean|
        // (a few ulp of it), not with the (possibly tiny) difference.
        const double tol = 6e-7 * ((std::fabs(x[i]) + std::fabs(mean)) * inv * std::fabs(w[i]) + std::fabs(b[i]));
        EXPECT_NEAR(y[i], r, tol + 1e-30) << n << " " << cpu_level_name(level_);
      }
      std::vector<float> y2(x.size());
      k->layer_norm(x.data(), nullptr, nullptr, 1e-5f, n, y2.data());
      for (size_t i = 0; i < x.size(); ++i) {
        const double r = (x[i] - mean) * inv;
        EXPECT_NEAR(y2[i], r, 6e-7 * (std::fabs(x[i]) + std::fabs(mean)) * inv + 1e-30);
      }
    }
  }
}

TEST(KernelsElementwise, SoftmaxWithScaleAndMask) {
  std::mt19937 rng(12);
  const float inf = std::numeric_limits<float>::infinity();
  FOR_EACH_LEVEL(k) {
    for (int64_t n : kSizes) {
      const auto x0 = random_floats(rng, n, -20, 20);
      std::vector<float> mask(x0.size(), 0.0f);
      for (size_t i = 0; i < mask.size(); i += 3) mask[i] = -inf;
      if (mask.size() > 1) mask[1] = -1.5f;
      for (bool use_mask : {false, true}) {
        std::vector<float> x = x0;
        const float scale = 0.125f;
        std::vector<double> e(x.size());
        double mx = -1e300;
        for (size_t i = 0; i < x.size(); ++i) {
          e[i] = static_cast<double>(x[i] * scale + (use_mask ? mask[i] : 0.0f));
          mx = std::max(mx, e[i]);
        }
        double sum = 0;
        for (auto& v : e) {
          v = std::isinf(v) ? 0.0 : std::exp(v - mx);
          sum += v;
        }
        k->softmax(x.data(), n, scale, use_mask ? mask.data() : nullptr);
        for (size_t i = 0; i < x.size(); ++i) {
          const double r = sum > 0 ? e[i] / sum : 0.0;  // all masked: zeros
          // exp to ~2 ulp, the argument x*scale+mask-max rounds once (|arg| <= 6, so ~6 u abs
          // error in the exponent), then one division and one product.
          EXPECT_NEAR(x[i], r, 2e-6 * r + 1e-30) << n << " " << cpu_level_name(level_);
          if (use_mask && std::isinf(mask[i])) {
            EXPECT_EQ(x[i], 0.0f);
          }
        }
      }
      // A fully masked row becomes zeros, not NaN.
      std::vector<float> x = x0, full(x0.size(), -inf);
      k->softmax(x.data(), n, 1.0f, full.data());
      for (float v : x) EXPECT_EQ(v, 0.0f);
    }
  }
}

TEST(KernelsElementwise, RopeCacheMatchesAngles) {
  for (int64_t n_rot : {64, 128, 32}) {
    for (float pos : {0.0f, 1.0f, 17.0f, 1000.0f}) {
      std::vector<float> c(static_cast<size_t>(n_rot / 2)), s(c.size());
      rope_cache(pos, n_rot, 10000.0f, 0.5f, c.data(), s.data());
      for (int64_t i = 0; i < n_rot / 2; ++i) {
        const double theta = 0.5 * pos * std::pow(10000.0, -2.0 * i / n_rot);
        // theta advances by i float products (as in ggml): relative error <= (i + 3) u.
        const double tol = theta * (i + 3) * 1.2e-7 + 2e-7;
        EXPECT_NEAR(c[i], std::cos(theta), tol) << i;
        EXPECT_NEAR(s[i], std::sin(theta), tol) << i;
      }
    }
  }
}

TEST(KernelsElementwise, RopeNormalAndNeoxWithPartialRotation) {
  std::mt19937 rng(13);
  FOR_EACH_LEVEL(k) {
    for (RopeMode mode : {RopeMode::kNormal, RopeMode::kNeox}) {
      for (int64_t n_rot : {64, 32, 6}) {
        const int64_t head_dim = 64, heads = 3;
        std::vector<float> c(static_cast<size_t>(n_rot / 2)), s(c.size());
        rope_cache(37.0f, n_rot, 1e6f, 1.0f, c.data(), s.data());
        const auto x0 = random_floats(rng, heads * head_dim);
        std::vector<float> x = x0;
        k->rope(x.data(), heads, head_dim, n_rot, mode, c.data(), s.data());
        for (int64_t h = 0; h < heads; ++h) {
          const float* in = x0.data() + h * head_dim;
          const float* out = x.data() + h * head_dim;
          for (int64_t i = 0; i < n_rot / 2; ++i) {
            const int64_t i0 = mode == RopeMode::kNeox ? i : 2 * i;
            const int64_t i1 = mode == RopeMode::kNeox ? i + n_rot / 2 : 2 * i + 1;
            const double r0 = static_cast<double>(in[i0]) * c[i] - static_cast<double>(in[i1]) * s[i];
            const double r1 = static_cast<double>(in[i0]) * s[i] + static_cast<double>(in[i1]) * c[i];
            const double tol = 2.5e-7 * (std::fabs(in[i0]) + std::fabs(in[i1]));
            EXPECT_NEAR(out[i0], r0, tol);
            EXPECT_NEAR(out[i1], r1, tol);
          }
          for (int64_t i = n_rot; i < head_dim; ++i) EXPECT_EQ(out[i], in[i]);  // not rotated
        }
      }
    }
  }
}

TEST(KernelsElementwise, Activations) {
  std::mt19937 rng(14);
  FOR_EACH_LEVEL(k) {
    for (int64_t n : kSizes) {
      auto x = random_floats(rng, n, -12, 12);
      x.at(0) = 0.0f;
      const auto b = random_floats(rng, n);
      std::vector<float> ys(x.size()), yg(x.size()), ye(x.size()), yt(x.size());
      k->silu(x.data(), n, ys.data());
      k->swiglu(x.data(), b.data(), n, yg.data());
      k->gelu_erf(x.data(), n, ye.data());
      k->gelu_tanh(x.data(), n, yt.data());
      for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        const double silu = v / (1 + std::exp(-v));
        const double gerf = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
        const double u = std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v);
        const double gtanh = v / (1 + std::exp(-2 * u));  // = 0.5 v (1 + tanh u)
        // silu: exp (~2 ulp) of an exact argument, one add, one division: 1e-6 relative.
        EXPECT_NEAR(ys[i], silu, 1e-6 * std::fabs(silu) + 1e-30) << v;
        EXPECT_NEAR(yg[i], silu * b[i], 1.2e-6 * std::fabs(silu * b[i]) + 1e-30) << v;
        // gelu_erf: erfc fit has ~1.2e-7 relative error, and exp's argument -z^2 + p carries an
        // absolute rounding error of a few ulp of z^2 (<= 72 here), i.e. up to ~1.5e-5 relative.
        EXPECT_NEAR(ye[i], gerf, 1.5e-5 * std::fabs(gerf) + 1e-30) << v;
        // gelu_tanh: exp's argument 2u is rounded (|2u| <= 150 here -> ~3e-5 relative in the tail).
        EXPECT_NEAR(yt[i], gtanh, 3e-5 * std::fabs(gtanh) + 1e-30) << v;
      }
    }
  }
}

TEST(KernelsElementwise, ArithmeticIsExact) {
  std::mt19937 rng(15);
  FOR_EACH_LEVEL(k) {
    for (int64_t n : kSizes) {
      const auto a = random_floats(rng, n), b = random_floats(rng, n);
      std::vector<float> ya(a.size()), ym(a.size()), yc(a.size());
      k->add(a.data(), b.data(), n, ya.data());
      k->mul(a.data(), b.data(), n, ym.data());
      k->scale(a.data(), 0.3f, n, yc.data());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(ya[i], a[i] + b[i]);
        EXPECT_EQ(ym[i], a[i] * b[i]);
        EXPECT_EQ(yc[i], a[i] * 0.3f);
      }
    }
  }
  // Broadcast forms (active level).
  const auto a = random_floats(rng, 3 * 33), b = random_floats(rng, 33);
  std::vector<float> y(a.size()), z(a.size());
  add_rows(a.data(), b.data(), 3, 33, y.data());
  mul_rows(a.data(), b.data(), 3, 33, z.data());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(y[i], a[i] + b[i % 33]);
    EXPECT_EQ(z[i], a[i] * b[i % 33]);
  }
}

TEST(KernelsElementwise, HalfConversionsMatchScalarBits) {
  std::mt19937 rng(16);
  std::vector<float> x = random_floats(rng, 4097, -70000, 70000);
  const float specials[] = {0.0f, -0.0f, 1e-8f, -3e-6f, 6.1e-5f, 65504.0f, 65520.0f, 1e9f,
                            std::numeric_limits<float>::infinity(), 5.9604645e-8f, 2.9802322e-8f};
  for (size_t i = 0; i < std::size(specials); ++i) x[i] = specials[i];
  for (size_t i = 20; i < 300; ++i) x[i] = x[i] * 1e-9f;  // subnormal halves
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  FOR_EACH_LEVEL(k) {
    for (int64_t n : kSizes) {
      std::vector<uint16_t> h(static_cast<size_t>(n));
      k->fp32_to_fp16_row(x.data(), n, h.data());
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(h[i], fp32_to_fp16(x[i])) << x[i];
    }
    std::vector<float> f(all.size()), g(all.size());
    k->fp16_to_fp32_row(all.data(), 65536, f.data());
    k->bf16_to_fp32_row(all.data(), 65536, g.data());
    for (size_t i = 0; i < all.size(); ++i) {
      const float rf = fp16_to_fp32(all[i]), rg = bf16_to_fp32(all[i]);
      if (std::isnan(rf)) {  // F16C quiets signaling NaNs; any NaN is fine
        EXPECT_TRUE(std::isnan(f[i])) << i;
      } else {
        EXPECT_EQ(0, std::memcmp(&f[i], &rf, 4)) << i;
      }
      EXPECT_EQ(0, std::memcmp(&g[i], &rg, 4)) << i;
    }
  }
}

TEST(KernelsElementwise, AttnPv4) {
  std::mt19937 rng(40);
  FOR_EACH_LEVEL(k) {
    for (int64_t n : {int64_t{1}, int64_t{9}, int64_t{64}, int64_t{80}, int64_t{128}}) {
      for (int64_t len : {int64_t{1}, int64_t{5}, int64_t{130}}) {
        const int64_t vs = n + 3, ps = len + 2, os = n + 1;
        const auto v = random_floats(rng, len * vs, -2, 2), p = random_floats(rng, 4 * ps, 0, 1);
        std::vector<float> out(4 * os, -1.0f);
        k->attn_pv4(p.data(), ps, len, v.data(), vs, n, out.data(), os);
        for (int64_t a = 0; a < 4; ++a) {
          for (int64_t i = 0; i < n; ++i) {
            double r = 0, mag = 0;
            for (int64_t s = 0; s < len; ++s) {
              r += static_cast<double>(p[a * ps + s]) * v[s * vs + i];
              mag += std::fabs(static_cast<double>(p[a * ps + s]) * v[s * vs + i]);
            }
            // len sequential roundings, each at most half an ulp of the running magnitude.
            EXPECT_NEAR(out[a * os + i], r, 1.2e-7 * mag * static_cast<double>(len) + 1e-30)
                << n << " " << len << " " << cpu_level_name(level_);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace omni::kernels
