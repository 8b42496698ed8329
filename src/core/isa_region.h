// Code compiled for an instruction-set level above the binary's generic x86-64 baseline, picked
// at run time (core/cpu.h). Every function defined between OMNI_ISA_BEGIN("avx2,fma") and
// OMNI_ISA_END() carries that target; GCC spells it `push_options` + `target`, clang an
// `attribute push`, so files only name the level.
#pragma once

#define OMNI_ISA_PRAGMA(...) _Pragma(#__VA_ARGS__)
#if defined(__clang__)
#define OMNI_ISA_BEGIN(isa) \
  OMNI_ISA_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define OMNI_ISA_END() OMNI_ISA_PRAGMA(clang attribute pop)
#else
#define OMNI_ISA_BEGIN(isa) OMNI_ISA_PRAGMA(GCC push_options) OMNI_ISA_PRAGMA(GCC target(isa))
#define OMNI_ISA_END() OMNI_ISA_PRAGMA(GCC pop_options)
#endif
