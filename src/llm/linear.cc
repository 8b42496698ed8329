#include "llm/linear.h"

#include "core/kernels.h"
#include "core/quant.h"

namespace omni::llm {

void matrix_row(const gguf::TensorInfo& w, uint64_t row, float* out) {
  const uint64_t cols = w.shape[0];
  const uint64_t rb = w.n_bytes / w.rows();
  dequantize_row(w.type, w.data + row * rb, out, static_cast<int64_t>(cols));
}

void linear(const gguf::TensorInfo& w, const float* x, uint32_t n, float* y, ThreadPool& pool) {
  kernels::matmul(w.type, w.data, static_cast<int64_t>(w.rows()), static_cast<int64_t>(w.shape[0]),
                  x, n, y, &pool);
}

}  // namespace omni::llm
