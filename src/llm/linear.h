// y = x · Wᵀ for a weight matrix in any supported GGUF type: W has rows = output features, each
// row `in` elements long as stored in the file; x is [n][in] row-major, y is [n][out].
#pragma once

#include <cstdint>

#include "core/gguf.h"

namespace omni {
class ThreadPool;
}

namespace omni::llm {

void linear(const gguf::TensorInfo& w, const float* x, uint32_t n, float* y, ThreadPool& pool);

// Copies row `row` of a (possibly quantized) matrix into `out` as floats (embedding lookup).
void matrix_row(const gguf::TensorInfo& w, uint64_t row, float* out);

}  // namespace omni::llm
