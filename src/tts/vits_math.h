// Elementwise transcendental functions of the VITS engine over float arrays: the flow's gated
// activation (WaveNet: tanh(a) * sigmoid(b)), the duration predictor's GELU and the decoder's
// final tanh. With AVX-512 they
// run 8 lanes at a time in double precision (exp/expm1 by range reduction and a degree-10
// Taylor polynomial, ~1e-13 relative) and round once to float, so each result is the correctly
// rounded value in all but rare ties (<= 0.5 ulp + 1e-5 ulp); std::tanh / std::exp are within
// ~1 ulp of it. Without AVX-512 (or with OMNI_CPU below avx512) they are the plain std:: loops.
// Every element depends only on its inputs (no lane-position effects), so results do not
// depend on how an array is split into calls.
#pragma once

#include <cstdint>

namespace omni::tts {

// out[i] = tanh(a[i]) * sigmoid(b[i]); out may alias a or b.
void tanh_sigmoid_gate(const float* a, const float* b, int64_t n, float* out);

// out[i] = gelu(x[i]) = 0.5 x (1 + erf(x / sqrt2)); out may alias x. With AVX-512: erfc from a
// fit of relative error < 1.2e-7 (Numerical Recipes' erfcc) evaluated in double, so within
// ~2 ulp of the exact value (the tanh/gate note above does not apply: not correctly rounded).
void gelu_array(const float* x, int64_t n, float* out);

// out[i] = tanh(x[i]); out may alias x.
void tanh_array(const float* x, int64_t n, float* out);

}  // namespace omni::tts
