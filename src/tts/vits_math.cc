#include "tts/vits_math.h"

#include "core/intrinsics.h"

#include <algorithm>
#include <cmath>

#include "core/cpu.h"
#include "core/isa_region.h"

OMNI_ISA_BEGIN("avx2,fma,avx512f,avx512dq,avx512vl")
namespace omni::tts::math_avx512 {
namespace {

inline __m512d set(double v) { return _mm512_set1_pd(v); }

// exp(x) - 1 and exp(x) share the reduction x = k ln2 + r, |r| <= ln2/2, and
// expm1(r) = r (1 + r/2! + ... + r^9/10!) (truncation < 7e-13 relative).
struct Reduced {
  __m512d k, em1;  // x = k ln2 + r, em1 = expm1(r)
};

inline Reduced reduce(__m512d x) {
  const __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(x, set(1.4426950408889634)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(k, set(6.93147180369123816490e-01), x);
  r = _mm512_fnmadd_pd(k, set(1.90821492927058770002e-10), r);
  __m512d q = set(1.0 / 3628800);
  q = _mm512_fmadd_pd(q, r, set(1.0 / 362880));
  q = _mm512_fmadd_pd(q, r, set(1.0 / 40320));
  q = _mm512_fmadd_pd(q, r, set(1.0 / 5040));
  q = _mm512_fmadd_pd(q, r, set(1.0 / 720));
  q = _mm512_fmadd_pd(q, r, set(1.0 / 120));
  q = _mm512_fmadd_pd(q, r, set(1.0 / 24));
  q = _mm512_fmadd_pd(q, r, set(1.0 / 6));
  q = _mm512_fmadd_pd(q, r, set(0.5));
  q = _mm512_fmadd_pd(q, r, set(1.0));
  return {k, _mm512_mul_pd(q, r)};
}

// exp(x) for |x| <= 700.
inline __m512d exp_pd(__m512d x) {
  const Reduced rd = reduce(x);
  return _mm512_scalef_pd(_mm512_add_pd(rd.em1, set(1.0)), rd.k);
}

// expm1(x) for 0 <= x <= 700: 2^k expm1(r) + (2^k - 1), exact for k = 0.
inline __m512d expm1_pd(__m512d x) {
  const Reduced rd = reduce(x);
  const __m512d p2 = _mm512_scalef_pd(set(1.0), rd.k);
  return _mm512_fmadd_pd(p2, rd.em1, _mm512_sub_pd(p2, set(1.0)));
}

inline __m512d with_sign_of(__m512d mag, __m512d s) {
  const __m512d sign = _mm512_and_pd(s, set(-0.0));
  return _mm512_or_pd(mag, sign);
}

// |tanh(a)| = e / (e + 2) with e = expm1(2|a|); tanh(20) is 1 in double.
inline void tanh_parts(__m512d a, __m512d* num, __m512d* den) {
  const __m512d ax = _mm512_min_pd(_mm512_abs_pd(a), set(20.0));
  *num = expm1_pd(_mm512_add_pd(ax, ax));
  *den = _mm512_add_pd(*num, set(2.0));
}

inline __m256 gate8(__m256 af, __m256 bf) {
  const __m512d a = _mm512_cvtps_pd(af), b = _mm512_cvtps_pd(bf);
  __m512d num, den;
  tanh_parts(a, &num, &den);
  // sigmoid(b) = 1 / (1 + exp(-b)); past |b| = 200 it is 0 or 1 in float anyway.
  const __m512d nb = _mm512_min_pd(_mm512_max_pd(_mm512_sub_pd(set(0.0), b), set(-200.0)),
                                   set(200.0));
  den = _mm512_mul_pd(den, _mm512_add_pd(exp_pd(nb), set(1.0)));
  return _mm512_cvtpd_ps(with_sign_of(_mm512_div_pd(num, den), a));
}

inline __m256 tanh8(__m256 xf) {
  const __m512d x = _mm512_cvtps_pd(xf);
  __m512d num, den;
  tanh_parts(x, &num, &den);
  return _mm512_cvtpd_ps(with_sign_of(_mm512_div_pd(num, den), x));
}

// 0.5 x (1 + erf(x / sqrt2)) = 0.5 x (x < 0 ? erfc(z) : 2 - erfc(z)), z = |x| / sqrt2, with
// erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2) (the Chebyshev fit of Press et al.,
// Numerical Recipes: relative error < 1.2e-7 for all z). In double the argument of exp keeps
// its precision, so the fit's error is all there is (<= ~1 ulp of the float result).
inline __m256 gelu8(__m256 xf) {
  const __m512d x = _mm512_cvtps_pd(xf);
  // erfc(27) underflows double; the result is 0.5 x * 0 or x exactly in float long before.
  const __m512d z = _mm512_min_pd(_mm512_mul_pd(_mm512_abs_pd(x), set(0.70710678118654752)),
                                  set(27.0));
  const __m512d t = _mm512_div_pd(set(1.0), _mm512_fmadd_pd(z, set(0.5), set(1.0)));
  __m512d p = set(0.17087277);
  p = _mm512_fmadd_pd(p, t, set(-0.82215223));
  p = _mm512_fmadd_pd(p, t, set(1.48851587));
  p = _mm512_fmadd_pd(p, t, set(-1.13520398));
  p = _mm512_fmadd_pd(p, t, set(0.27886807));
  p = _mm512_fmadd_pd(p, t, set(-0.18628806));
  p = _mm512_fmadd_pd(p, t, set(0.09678418));
  p = _mm512_fmadd_pd(p, t, set(0.37409196));
  p = _mm512_fmadd_pd(p, t, set(1.00002368));
  p = _mm512_fmadd_pd(p, t, set(-1.26551223));
  const __m512d c = _mm512_mul_pd(t, exp_pd(_mm512_fnmadd_pd(z, z, p)));
  const __mmask8 neg = _mm512_cmp_pd_mask(x, set(0.0), _CMP_LT_OQ);
  const __m512d one_plus_erf = _mm512_mask_blend_pd(neg, _mm512_sub_pd(set(2.0), c), c);
  return _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(x, set(0.5)), one_plus_erf));
}

// out[i] = f(in[i]...) over n floats, 8 lanes at a time, the tail through a lane mask.
// Always inlined, so each caller's f is a known function and inlines too.
template <class F, class... In>
[[gnu::always_inline]] inline void map8(F f, int64_t n, float* out, const In*... in) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(in + i)...));
  if (i < n) {
    const __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
    _mm256_mask_storeu_ps(out + i, m, f(_mm256_maskz_loadu_ps(m, in + i)...));
  }
}

}  // namespace

void gelu(const float* x, int64_t n, float* out) { map8(gelu8, n, out, x); }

void gate(const float* a, const float* b, int64_t n, float* out) { map8(gate8, n, out, a, b); }

void tanh(const float* x, int64_t n, float* out) { map8(tanh8, n, out, x); }

}  // namespace omni::tts::math_avx512
OMNI_ISA_END()

namespace omni::tts {
namespace {

bool use_avx512() {
  static const bool v = cpu_level() >= CpuLevel::kAvx512;
  return v;
}

}  // namespace

void tanh_sigmoid_gate(const float* a, const float* b, int64_t n, float* out) {
  if (use_avx512()) return math_avx512::gate(a, b, n, out);
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(a[i]) * (1.f / (1.f + std::exp(-b[i])));
}

void gelu_array(const float* x, int64_t n, float* out) {
  if (use_avx512()) return math_avx512::gelu(x, n, out);
  for (int64_t i = 0; i < n; ++i) {
    out[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * 0.70710678118654752f));
  }
}

void tanh_array(const float* x, int64_t n, float* out) {
  if (use_avx512()) return math_avx512::tanh(x, n, out);
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
}

}  // namespace omni::tts
