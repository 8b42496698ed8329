#include "tts/winograd.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>

#include "core/cpu.h"
#include "core/error.h"
#include "core/isa_region.h"
#include "core/thread_pool.h"

// The tile transforms at each SIMD level (see winograd_xform.inc); the rest of the file stays
// baseline x86-64.
OMNI_ISA_BEGIN("avx2,fma,avx512f")
namespace omni::tts::wino_avx512 {
namespace {
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vset(float s) { return _mm512_set1_ps(s); }
inline Vec vfma(Vec a, float s, Vec b) { return _mm512_fmadd_ps(_mm512_set1_ps(s), b, a); }
inline Vec vact(Vec v, float s) {
  return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                            _mm512_set1_ps(s));
}
}  // namespace
#include "tts/winograd_xform.inc"
}  // namespace omni::tts::wino_avx512
OMNI_ISA_END()

OMNI_ISA_BEGIN("avx2,fma")
namespace omni::tts::wino_avx2 {
namespace {
using Vec = __m256;
constexpr int kLanes = 8;
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vset(float s) { return _mm256_set1_ps(s); }
inline Vec vfma(Vec a, float s, Vec b) { return _mm256_fmadd_ps(_mm256_set1_ps(s), b, a); }
inline Vec vact(Vec v, float s) {
  return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(s)),
                          _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
}
}  // namespace
#include "tts/winograd_xform.inc"
}  // namespace omni::tts::wino_avx2
OMNI_ISA_END()

namespace omni::tts::wino_scalar {
namespace {
using Vec = float;
constexpr int kLanes = 1;
inline Vec vload(const float* p) { return *p; }
inline void vstore(float* p, Vec v) { *p = v; }
inline Vec vzero() { return 0.f; }
inline Vec vset(float s) { return s; }
inline Vec vfma(Vec a, float s, Vec b) { return std::fma(s, b, a); }
inline Vec vact(Vec v, float s) { return v < 0.f ? v * s : v; }
}  // namespace
#include "tts/winograd_xform.inc"
}  // namespace omni::tts::wino_scalar

namespace omni::tts {
namespace {

constexpr int kSlack = 16;  // widest vector: every run may be processed in whole vectors

struct Xform {
  void (*in)(int, const float* const*, float* const*, int, const float*, float, int, size_t,
             size_t);
  void (*out)(int, int, const float* const*, float* const*, int, const float*, float,
              const float* const*, int, size_t, size_t, size_t);
  void (*in_pairs)(int, const float* const*, float* const*, int, const float*, const float*,
                   float, int, size_t, size_t);
  void (*out_pairs)(int, int, const float* const*, float* const*, int, const float*, float,
                    const float* const*, int, size_t, size_t, size_t);
};

Xform pick_xform() {
  switch (cpu_level()) {
    case CpuLevel::kAvx512: return {wino_avx512::in_xform_n, wino_avx512::out_xform_nm, wino_avx512::in_xform_pairs_n,
              wino_avx512::out_xform_pairs_nm};
    case CpuLevel::kAvx2: return {wino_avx2::in_xform_n, wino_avx2::out_xform_nm, wino_avx2::in_xform_pairs_n,
              wino_avx2::out_xform_pairs_nm};
    default: return {wino_scalar::in_xform_n, wino_scalar::out_xform_nm, wino_scalar::in_xform_pairs_n,
              wino_scalar::out_xform_pairs_nm};
  }
}

// Finite interpolation points for n - 1 of them (the n-th is infinity); small magnitudes and
// reciprocal pairs keep the transforms well conditioned.
std::vector<double> points(int finite) {
  static const double kAll[] = {0, 1, -1, 2, -2, 0.5, -0.5, 0.75, -0.75};
  if (finite > int(std::size(kAll))) throw Error("winograd: tile too large");
  return std::vector<double>(kAll, kAll + finite);
}

int round_up(int v, int to) { return (v + to - 1) / to * to; }

float* scratch(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// GCC 12 flags the "undefined" source operand inside its own lane-insert / extract intrinsics
// (clang does not know this warning group and, with -Werror, rejects the pragma).
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// 16 groups x 4 phases at a time for the transposes below (AVX-512): lane L of vector k holds
// group 4L + k, so a 4x4 transpose inside each 128-bit lane gives 16 consecutive groups of one
// phase (and back). Same data movement as the 4x4 SSE blocks, a quarter of the shuffles.
__attribute__((target("avx512f"), always_inline)) inline void transpose_lanes(__m512& r0,
                                                                             __m512& r1,
                                                                             __m512& r2,
                                                                             __m512& r3) {
  const __m512 t0 = _mm512_unpacklo_ps(r0, r1), t1 = _mm512_unpackhi_ps(r0, r1);
  const __m512 t2 = _mm512_unpacklo_ps(r2, r3), t3 = _mm512_unpackhi_ps(r2, r3);
  r0 = _mm512_shuffle_ps(t0, t2, 0x44);
  r1 = _mm512_shuffle_ps(t0, t2, 0xEE);
  r2 = _mm512_shuffle_ps(t1, t3, 0x44);
  r3 = _mm512_shuffle_ps(t1, t3, 0xEE);
}

// Lanes L = 0..3 from p + (4L + k) * stride (4 floats each).
__attribute__((target("avx512f"), always_inline)) inline __m512 load_lanes(const float* p,
                                                                          size_t stride) {
  __m512 v = _mm512_broadcast_f32x4(_mm_loadu_ps(p));
  v = _mm512_insertf32x4(v, _mm_loadu_ps(p + 4 * stride), 1);
  v = _mm512_insertf32x4(v, _mm_loadu_ps(p + 8 * stride), 2);
  return _mm512_insertf32x4(v, _mm_loadu_ps(p + 12 * stride), 3);
}

__attribute__((target("avx512f"), always_inline)) inline void store_lanes(float* p, size_t stride,
                                                                         __m512 v) {
  _mm_storeu_ps(p, _mm512_castps512_ps128(v));
  _mm_storeu_ps(p + 4 * stride, _mm512_extractf32x4_ps(v, 1));
  _mm_storeu_ps(p + 8 * stride, _mm512_extractf32x4_ps(v, 2));
  _mm_storeu_ps(p + 12 * stride, _mm512_extractf32x4_ps(v, 3));
}

// split_phases' in-range blocks of 16 groups (span % 4 == 0); returns the groups done.
__attribute__((target("avx512f"))) int split16_avx512(const float* x, int tin, int off, int span,
                                                     int qe, float* dst, int ldd) {
  int q = 0;
  for (; q + 16 <= qe; q += 16) {
    const int lo = q * span + off, hi = lo + 16 * span - 1;
    if (lo < 0 || hi >= tin) break;
    for (int s = 0; s < span; s += 4) {
      const float* src = x + lo + s;
      __m512 r0 = load_lanes(src, size_t(span)), r1 = load_lanes(src + span, size_t(span));
      __m512 r2 = load_lanes(src + 2 * span, size_t(span));
      __m512 r3 = load_lanes(src + 3 * span, size_t(span));
      transpose_lanes(r0, r1, r2, r3);
      _mm512_storeu_ps(dst + size_t(s) * ldd + q, r0);
      _mm512_storeu_ps(dst + size_t(s + 1) * ldd + q, r1);
      _mm512_storeu_ps(dst + size_t(s + 2) * ldd + q, r2);
      _mm512_storeu_ps(dst + size_t(s + 3) * ldd + q, r3);
    }
  }
  return q;
}

// merge_phases' whole blocks of 16 groups (span % 4 == 0); returns the groups done.
__attribute__((target("avx512f"))) int merge16_avx512(const float* ob, int ldo, int span, int cc,
                                                     float* y, int limit, const float* res,
                                                     bool into_y, float scale) {
  int q = 0;
  for (; q + 16 <= cc && (q + 16) * span <= limit; q += 16) {
    for (int s = 0; s < span; s += 4) {
      __m512 r0 = _mm512_loadu_ps(ob + size_t(s) * ldo + q);
      __m512 r1 = _mm512_loadu_ps(ob + size_t(s + 1) * ldo + q);
      __m512 r2 = _mm512_loadu_ps(ob + size_t(s + 2) * ldo + q);
      __m512 r3 = _mm512_loadu_ps(ob + size_t(s + 3) * ldo + q);
      transpose_lanes(r0, r1, r2, r3);
      const size_t at = size_t(q) * span + s;
      if (res) {
        r0 = _mm512_add_ps(r0, load_lanes(res + at, size_t(span)));
        r1 = _mm512_add_ps(r1, load_lanes(res + at + span, size_t(span)));
        r2 = _mm512_add_ps(r2, load_lanes(res + at + 2 * span, size_t(span)));
        r3 = _mm512_add_ps(r3, load_lanes(res + at + 3 * span, size_t(span)));
      }
      if (into_y) {
        const __m512 sc = _mm512_set1_ps(scale);
        r0 = _mm512_mul_ps(_mm512_add_ps(load_lanes(y + at, size_t(span)), r0), sc);
        r1 = _mm512_mul_ps(_mm512_add_ps(load_lanes(y + at + span, size_t(span)), r1), sc);
        r2 = _mm512_mul_ps(_mm512_add_ps(load_lanes(y + at + 2 * span, size_t(span)), r2), sc);
        r3 = _mm512_mul_ps(_mm512_add_ps(load_lanes(y + at + 3 * span, size_t(span)), r3), sc);
      }
      store_lanes(y + at, size_t(span), r0);
      store_lanes(y + at + span, size_t(span), r1);
      store_lanes(y + at + 2 * span, size_t(span), r2);
      store_lanes(y + at + 3 * span, size_t(span), r3);
    }
  }
  return q;
}

#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif

bool wide_transposes() {
  static const bool on = cpu_level() >= CpuLevel::kAvx512;
  return on;
}

// dst[s * ldd + q] = x[q * span + s + off] (zero outside [0, tin)), q < qe, s < span: a
// transpose of the row seen as [qe][span], in 4x4 SSE blocks where the source is in range.
// (The raw input: the input transform applies the activation, the output transform can add it
// back as the residual.)
void split_phases(const float* x, int tin, int off, int span, int qe, float* dst, int ldd) {
  const int q4 = span % 4 == 0 ? qe / 4 * 4 : 0;
  const int q16 = q4 > 0 && wide_transposes() ? split16_avx512(x, tin, off, span, qe, dst, ldd) : 0;
  for (int q = q16; q < q4; q += 4) {
    for (int s = 0; s < span; s += 4) {
      const int lo = q * span + s + off, hi = lo + 3 * span + 3;
      if (lo >= 0 && hi < tin) {
        const float* src = x + lo;
        __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + span);
        __m128 r2 = _mm_loadu_ps(src + 2 * span), r3 = _mm_loadu_ps(src + 3 * span);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(dst + size_t(s) * ldd + q, r0);
        _mm_storeu_ps(dst + size_t(s + 1) * ldd + q, r1);
        _mm_storeu_ps(dst + size_t(s + 2) * ldd + q, r2);
        _mm_storeu_ps(dst + size_t(s + 3) * ldd + q, r3);
      } else {
        for (int qq = q; qq < q + 4; ++qq) {
          for (int ss = s; ss < s + 4; ++ss) {
            const int i = qq * span + ss + off;
            dst[size_t(ss) * ldd + qq] = i >= 0 && i < tin ? x[i] : 0.f;
          }
        }
      }
    }
  }
  for (int q = q4; q < qe; ++q) {
    for (int s = 0; s < span; ++s) {
      const int i = q * span + s + off;
      dst[size_t(s) * ldd + q] = i >= 0 && i < tin ? x[i] : 0.f;
    }
  }
}

}  // namespace

void merge_phases(const float* ob, int ldo, int span, int cc, float* y, int limit,
                  const float* res, bool into_y, float scale) {
  const bool add = res != nullptr;
  const int q4 = span % 4 == 0 ? cc / 4 * 4 : 0;
  const int q16 = q4 > 0 && wide_transposes()
                      ? merge16_avx512(ob, ldo, span, cc, y, limit, res, into_y, scale)
                      : 0;
  // The value stored at y[at] for v = ob (+ res): v, or (y[at] + v) * scale.
  auto put = [&](size_t at, float v) { y[at] = into_y ? (y[at] + v) * scale : v; };
  for (int q = q16; q < q4; q += 4) {
    if ((q + 4) * span <= limit) {
      for (int s = 0; s < span; s += 4) {
        __m128 r0 = _mm_loadu_ps(ob + size_t(s) * ldo + q);
        __m128 r1 = _mm_loadu_ps(ob + size_t(s + 1) * ldo + q);
        __m128 r2 = _mm_loadu_ps(ob + size_t(s + 2) * ldo + q);
        __m128 r3 = _mm_loadu_ps(ob + size_t(s + 3) * ldo + q);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        float* d = y + size_t(q) * span + s;
        if (add) {
          const float* rs = res + size_t(q) * span + s;
          r0 = _mm_add_ps(r0, _mm_loadu_ps(rs));
          r1 = _mm_add_ps(r1, _mm_loadu_ps(rs + span));
          r2 = _mm_add_ps(r2, _mm_loadu_ps(rs + 2 * span));
          r3 = _mm_add_ps(r3, _mm_loadu_ps(rs + 3 * span));
        }
        if (into_y) {
          const __m128 sc = _mm_set1_ps(scale);
          r0 = _mm_mul_ps(_mm_add_ps(_mm_loadu_ps(d), r0), sc);
          r1 = _mm_mul_ps(_mm_add_ps(_mm_loadu_ps(d + span), r1), sc);
          r2 = _mm_mul_ps(_mm_add_ps(_mm_loadu_ps(d + 2 * span), r2), sc);
          r3 = _mm_mul_ps(_mm_add_ps(_mm_loadu_ps(d + 3 * span), r3), sc);
        }
        _mm_storeu_ps(d, r0);
        _mm_storeu_ps(d + span, r1);
        _mm_storeu_ps(d + 2 * span, r2);
        _mm_storeu_ps(d + 3 * span, r3);
      }
    } else {
      for (int qq = q; qq < q + 4; ++qq) {
        for (int s = 0; s < span && qq * span + s < limit; ++s) {
          const size_t at = size_t(qq) * span + s;
          put(at, add ? ob[size_t(s) * ldo + qq] + res[at] : ob[size_t(s) * ldo + qq]);
        }
      }
    }
  }
  for (int q = q4; q < cc; ++q) {
    for (int s = 0; s < span && q * span + s < limit; ++s) {
      const size_t at = size_t(q) * span + s;
      put(at, add ? ob[size_t(s) * ldo + q] + res[at] : ob[size_t(s) * ldo + q]);
    }
  }
}

namespace {

}  // namespace

namespace {

// Whether bt / at have the symmetric-pair form the *_pairs transforms rely on (points 0, +-p..,
// infinity): rows 2k+1 and 2k+2 of bt equal up to the sign of odd taps and an overall sign
// (returned in sgn), and at's columns likewise up to the sign of odd outputs, with the point 0
// only in output 0 and infinity only in output m-1.
bool pair_structure(const std::vector<double>& bt, const std::vector<double>& at, int m, int n,
                    std::vector<float>* sgn) {
  if (n % 2 != 0) return false;
  auto near = [](double a, double b) { return std::fabs(a - b) <= 1e-12 * (1 + std::fabs(a)); };
  for (int a = 1; a + 1 < n - 1; a += 2) {
    double s = 0;
    for (int i = 0; i < n && s == 0; ++i) {
      const double p = bt[size_t(a) * n + i];
      if (std::fabs(p) > 1e-9) s = bt[size_t(a + 1) * n + i] / (i % 2 ? -p : p);
    }
    if (!near(std::fabs(s), 1)) return false;
    s = s > 0 ? 1 : -1;
    for (int i = 0; i < n; ++i) {
      const double p = bt[size_t(a) * n + i] * (i % 2 ? -s : s);
      if (!near(bt[size_t(a + 1) * n + i], p)) return false;
    }
    sgn->push_back(float(s));
  }
  for (int j = 0; j < m; ++j) {
    if (at[size_t(j) * n] != (j == 0 ? 1.0 : 0.0)) return false;
    if (at[size_t(j) * n + n - 1] != (j == m - 1 ? 1.0 : 0.0)) return false;
    for (int a = 1; a + 1 < n - 1; a += 2) {
      const double p = at[size_t(j) * n + a] * (j % 2 ? -1 : 1);
      if (!near(at[size_t(j) * n + a + 1], p)) return false;
    }
  }
  return true;
}

}  // namespace

void winograd_matrices(int m, int r, std::vector<double>* bt, std::vector<double>* g,
                       std::vector<double>* at) {
  const int n = m + r - 1;
  const std::vector<double> a = points(n - 1);
  // V evaluates a polynomial of degree n-1 (its coefficients) at the points; the row for
  // infinity takes the leading coefficient. The linear convolution s = u * w (lengths m, r) is
  // s = V^-1 ((G w) .* (A u)); the correlation we need is its transpose in u:
  // y = A^T ((G w) .* (V^-T x)), so B^T = V^-T.
  std::vector<double> v(size_t(n) * n, 0.0), inv(size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int l = 0; l < n; ++l) {
      v[size_t(i) * n + l] = i < n - 1 ? std::pow(a[i], l) : (l == n - 1 ? 1.0 : 0.0);
    }
    inv[size_t(i) * n + i] = 1.0;
  }
  // Gauss-Jordan with partial pivoting.
  for (int c = 0; c < n; ++c) {
    int piv = c;
    for (int i = c + 1; i < n; ++i) {
      if (std::fabs(v[size_t(i) * n + c]) > std::fabs(v[size_t(piv) * n + c])) piv = i;
    }
    for (int l = 0; l < n; ++l) {
      std::swap(v[size_t(c) * n + l], v[size_t(piv) * n + l]);
      std::swap(inv[size_t(c) * n + l], inv[size_t(piv) * n + l]);
    }
    const double d = v[size_t(c) * n + c];
    for (int l = 0; l < n; ++l) {
      v[size_t(c) * n + l] /= d;
      inv[size_t(c) * n + l] /= d;
    }
    for (int i = 0; i < n; ++i) {
      if (i == c) continue;
      const double f = v[size_t(i) * n + c];
      if (f == 0) continue;
      for (int l = 0; l < n; ++l) {
        v[size_t(i) * n + l] -= f * v[size_t(c) * n + l];
        inv[size_t(i) * n + l] -= f * inv[size_t(c) * n + l];
      }
    }
  }
  bt->assign(size_t(n) * n, 0.0);
  for (int x = 0; x < n; ++x) {
    for (int i = 0; i < n; ++i) (*bt)[size_t(x) * n + i] = inv[size_t(i) * n + x];
  }
  g->assign(size_t(n) * r, 0.0);
  for (int x = 0; x < n; ++x) {
    for (int k = 0; k < r; ++k) {
      (*g)[size_t(x) * r + k] = x < n - 1 ? std::pow(a[x], k) : (k == r - 1 ? 1.0 : 0.0);
    }
  }
  at->assign(size_t(m) * n, 0.0);
  for (int j = 0; j < m; ++j) {
    for (int x = 0; x < n; ++x) {
      (*at)[size_t(j) * n + x] = x < n - 1 ? std::pow(a[x], j) : (j == m - 1 ? 1.0 : 0.0);
    }
  }
}

int WinogradConv::tile_for(int r, int dilation, int cout) {
  // Few output channels: the transforms (per input channel) cost more than the multiplications
  // they save, e.g. HiFi-GAN's conv_post (32 -> 1).
  if (cout < 8) return 0;
  // Larger tiles save multiplications (per output: n / m of them against r direct) where the
  // tile group (m * dilation samples) stays a multiple of 4, which the 4x4 phase split and
  // merge need to run vectorised (a group of 6 runs scalar: slower than the saving). Ten
  // points (nine finite: 0, +-1, +-2, +-1/2, +-3/4) is the most the float32 error allows
  // (winograd_test.cc): F(8,3), F(6,5), F(4,7).
  const bool wide_ok = (6 * dilation) % 4 == 0;
  switch (r) {
    case 3: return 8;                // n = 10
    case 5: return wide_ok ? 6 : 4;  // n = 10 / 8
    case 7: return 4;                // n = 10 (m = 6 would need 12 points)
    default: return 0;
  }
}

bool WinogradConv::enabled_by_default() {
  static const bool on = [] {
    const char* e = std::getenv("OMNI_TTS_DIRECT");
    return !(e && std::strcmp(e, "1") == 0);
  }();
  return on;
}

void WinogradConv::prepare(const float* w, int cout, int cin, int r, int dilation, int m) {
  // The transforms are instantiated for these tiles only (winograd_xform.inc); any other would
  // run no transform at all and leave garbage.
  const int n = m + r - 1;
  const bool built = (m == 4 && (n == 6 || n == 8 || n == 10)) ||
                     (m == 6 && (n == 8 || n == 10)) || (m == 8 && n == 10);
  if (!built) {
    throw Error("winograd: no F(" + std::to_string(m) + "," + std::to_string(r) +
                ") tile transforms (m 4/6/8, m + r - 1 <= 10)");
  }
  cin_ = cin;
  cout_ = cout;
  r_ = r;
  d_ = dilation;
  m_ = m;
  n_ = m + r - 1;
  std::vector<double> bt, g, at;
  winograd_matrices(m, r, &bt, &g, &at);
  bt_.assign(bt.begin(), bt.end());
  at_.assign(at.begin(), at.end());
  sgn_.clear();
  paired_ = pair_structure(bt, at, m_, n_, &sgn_);
  u_.assign(size_t(n_), PackedWeights{});
  std::vector<float> ua(size_t(cout) * cin);
  for (int a = 0; a < n_; ++a) {
    for (int co = 0; co < cout; ++co) {
      for (int ci = 0; ci < cin; ++ci) {
        const float* wk = w + (size_t(co) * cin + ci) * r;
        double s = 0;
        for (int k = 0; k < r; ++k) s += g[size_t(a) * r + k] * double(wk[k]);
        ua[size_t(co) * cin + ci] = float(s);
      }
    }
    u_[size_t(a)].pack(ua.data(), cout, cin, cin);
  }
}

void WinogradConv::run(const float* x, int tin, int pad, float in_slope, const float* bias,
                       float* y, int tout, const float* res, ThreadPool* pool) const {
  run_impl(x, tin, pad, in_slope, bias, y, tout, tout, 1, res, pool);
}

void WinogradConv::run_into(const float* x, int tin, int pad, float in_slope, const float* bias,
                            float* y, int tout, float scale, ThreadPool* pool) const {
  if (cin_ != cout_ || tin != tout) throw Error("winograd: run_into needs a residual shape");
  run_impl(x, tin, pad, in_slope, bias, y, tout, tout, 1, x, pool, true, scale);
}

void WinogradConv::run_interleaved(const float* x, int tin, int pad, float in_slope,
                                   const float* bias, float* y, int tout, int ylen,
                                   int interleave, ThreadPool* pool) const {
  if (interleave < 1 || cout_ % interleave != 0 || ylen > tout * interleave)
    throw Error("winograd: bad interleave");
  run_impl(x, tin, pad, in_slope, bias, y, tout, ylen, interleave, nullptr, pool);
}

void WinogradConv::run_impl(const float* x, int tin, int pad, float in_slope, const float* bias,
                            float* y, int tout, int ylen, int inter, const float* res,
                            ThreadPool* pool, bool into_y, float scale) const {
  static const Xform xf = pick_xform();
  const int n = n_, m = m_, d = d_;
  const int span = m * d;                    // outputs per tile group (L)
  const int groups = (tout + span - 1) / span;  // Q
  // Phase rows, per chunk of tile groups: ph[ci][s][q] = act(x)[ci][(q0 + q)*span + s - pad];
  // a tile (q, p) reads element i at phase (p + d*i) % span, row offset (p + d*i) / span. Split
  // inside the chunk loop, so the phase copy stays in L2 instead of making a pass over memory.
  const int extra = (d * n - 1) / span + 1;  // rows past the chunk's last group a tile reads
  const bool threaded = pool && pool->size() > 1;
  // A residual that is the input itself (the decoder's x += conv(lrelu(x))) is added in the
  // output transform from the phase rows already in cache, not re-read from memory.
  const bool res_in_phases =
      res != nullptr && res == x && tin == tout && cin_ == cout_ && inter == 1;

  // Chunks of `cq` tile groups: transforms and n GEMMs over a chunk stay in L2. The chunk size
  // depends only on the layer, so results do not depend on the thread count.
  const int target_cols = std::max(32, 131072 / (n * (cin_ + cout_)));
  // A chunk's GEMMs have d * cq columns: a multiple of the kernel's 32-column tile wastes none.
  const int step = std::lcm(16, 32 / std::gcd(d, 32));
  const int cq = std::max(step, round_up(std::max(1, target_cols / d), step));
  const int chunks = (groups + cq - 1) / cq;
  const int ldv = round_up(d * cq + kSlack, 32);
  const bool par_chunks = threaded && chunks >= 2 * pool->size();
  // In place (y is x) with chunks on several threads, a chunk's neighbours may already hold
  // outputs when it reads its halo: split the whole input first (one pass over memory).
  // Otherwise each chunk is split just before the previous one's outputs are written.
  const float* whole = nullptr;
  int ldw = 0;
  if (par_chunks && y == x) {
    ldw = groups + extra + kSlack;
    thread_local std::vector<float> wb;
    float* w = scratch(wb, size_t(cin_) * span * ldw);
    pool->parallel_for(cin_, [&](int64_t b, int64_t e) {
      for (int64_t ci = b; ci < e; ++ci) {
        split_phases(x + size_t(ci) * tin, tin, -pad, span, groups + extra,
                     w + size_t(ci) * span * ldw, ldw);
      }
    });
    whole = w;
  }
  auto run_chunks = [&](int64_t cb, int64_t ce, ThreadPool* inner) {
    // Reused between calls (stale values only reach columns past the end, never stored).
    thread_local std::vector<float> vb, mb, ob, pb[2];
    const int ldp = whole ? ldw : cq + extra + kSlack;
    float* vbuf = scratch(vb, size_t(n) * cin_ * ldv);
    float* mbuf = scratch(mb, size_t(n) * cout_ * ldv);
    float* obuf = scratch(ob, size_t(span) * inter * (cq + kSlack));
    float* phb[2] = {nullptr, nullptr};
    if (!whole) {
      phb[0] = scratch(pb[0], size_t(cin_) * span * ldp);
      phb[1] = scratch(pb[1], size_t(cin_) * span * ldp);
    }
    auto split_chunk = [&](int64_t c, float* dst) {
      const int q0 = int(c) * cq;
      const int cc = std::min(cq, groups - q0);
      // Each channel's slice is a short stream the hardware prefetcher would only pick up
      // partway: ask for the next channel's slice (into L2) while this one is split.
      const int lo = std::max(0, q0 * span - pad);
      const int hi = std::min(tin, (q0 + cc + extra) * span - pad);
      for (int ci = 0; ci < cin_; ++ci) {
        if (ci + 1 < cin_) {
          const char* nx = reinterpret_cast<const char*>(x + size_t(ci + 1) * tin);
          for (size_t o = size_t(lo) * 4; o < size_t(hi) * 4; o += 64)
            _mm_prefetch(nx + o, _MM_HINT_T1);
        }
        split_phases(x + size_t(ci) * tin, tin, q0 * span - pad, span, cc + extra,
                     dst + size_t(ci) * span * ldp, ldp);
      }
    };
    std::vector<const float*> src(size_t(std::max(n, cin_)));
    std::vector<float*> dst(size_t(std::max(n, span)));
    std::vector<const float*> rsrc(static_cast<size_t>(m));
    if (!whole && cb < ce) split_chunk(cb, phb[0]);
    for (int64_t c = cb; c < ce; ++c) {
      const int q0 = int(c) * cq;
      const int cc = std::min(cq, groups - q0);
      const int cols = d * cc;
      const float* ph_rows = whole ? whole + q0 : phb[(c - cb) & 1];
      // Input transform: V[a][ci][p*cc + q], all channels of one phase p per call (channel ci
      // reads its phase rows ci * span * ldp on and writes V rows ci * ldv on).
      for (int p = 0; p < d; ++p) {
        for (int i = 0; i < n; ++i) {
          const int o = p + d * i;
          src[size_t(i)] = ph_rows + size_t(o % span) * ldp + o / span;
        }
        for (int a = 0; a < n; ++a) dst[size_t(a)] = vbuf + size_t(a) * cin_ * ldv + size_t(p) * cc;
        const size_t ss = size_t(span) * ldp, ds = size_t(ldv);
        if (paired_) {
          xf.in_pairs(n, src.data(), dst.data(), cc, bt_.data(), sgn_.data(), in_slope, cin_, ss,
                      ds);
        } else {
          xf.in(n, src.data(), dst.data(), cc, bt_.data(), in_slope, cin_, ss, ds);
        }
      }
      // The next chunk's input is read before this one's outputs may overwrite it (y == x).
      if (!whole && c + 1 < ce) split_chunk(c + 1, phb[(c + 1 - cb) & 1]);
      // n GEMMs: M_a = U_a V_a.
      for (int a = 0; a < n; ++a) {
        for (int ci = 0; ci < cin_; ++ci)
          src[size_t(ci)] = vbuf + (size_t(a) * cin_ + ci) * ldv;
        gemm_rows(u_[size_t(a)], src.data(), cols, nullptr,
                  mbuf + size_t(a) * cout_ * ldv, ldv, inner);
      }
      // Output transform into phase rows obuf[s][q], then interleave into y. Interleaved
      // outputs: channel co' = ph * yc + co is phase ph of y's row co, so row (p + d*j) of
      // co' goes to obuf row (p + d*j) * inter + ph.
      const int ldo = cq + kSlack;
      const int yc = cout_ / inter;
      for (int co = 0; co < yc; ++co) {
        for (int ph = 0; ph < inter; ++ph) {
          const int cf = ph * yc + co;
          const float bv = bias ? bias[inter == 1 ? cf : co] : 0.f;
          // Phases p in runs per call: p steps src by cc and dst by inter * ldo; the residual
          // phase row (p + d*j + pad) % span steps by one row too, except where p + pad
          // crosses a multiple of d (then every j wraps to the next group): a second run.
          const int pw = res_in_phases ? (d - pad % d) % d : 0;
          for (int p0 = 0; p0 < d;) {
            const int p1 = p0 < pw ? pw : d;
            for (int a = 0; a < n; ++a)
              src[size_t(a)] = mbuf + (size_t(a) * cout_ + cf) * ldv + size_t(p0) * cc;
            for (int j = 0; j < m; ++j) {
              dst[size_t(j)] = obuf + (size_t(p0 + d * j) * inter + ph) * ldo;
              // Output q*span + s is input q*span + s + pad - pad: phase row (s + pad) % span,
              // (s + pad) / span groups on (inside the tile's inputs, so inside the split).
              const int o = p0 + d * j + pad;
              rsrc[size_t(j)] = ph_rows + (size_t(cf) * span + o % span) * ldp + o / span;
            }
            const float* const* r = res_in_phases ? rsrc.data() : nullptr;
            const size_t ss = size_t(cc), ds = size_t(inter) * ldo, rs = size_t(ldp);
            if (paired_) {
              xf.out_pairs(n, m, src.data(), dst.data(), cc, at_.data(), bv, r, p1 - p0, ss, ds,
                           rs);
            } else {
              xf.out(n, m, src.data(), dst.data(), cc, at_.data(), bv, r, p1 - p0, ss, ds, rs);
            }
            p0 = p1;
          }
        }
        const int ospan = span * inter;
        const size_t at = size_t(co) * ylen + size_t(q0) * ospan;
        merge_phases(obuf, ldo, ospan, cc, y + at, ylen - q0 * ospan,
                     res && !res_in_phases ? res + at : nullptr, into_y, scale);
      }
    }
  };
  if (par_chunks) {
    pool->parallel_for(chunks, [&](int64_t b, int64_t e) { run_chunks(b, e, nullptr); });
  } else {
    run_chunks(0, chunks, pool);
  }
}

}  // namespace omni::tts
