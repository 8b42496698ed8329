// <immintrin.h> for files whose code is mostly AVX-512. GCC 12's AVX-512 intrinsics start from
// _mm512_undefined_*() and so trip -W(maybe-)uninitialized in every function that inlines
// them; include this first in such a file and those two warnings stay off for the rest of it.
#pragma once

#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
