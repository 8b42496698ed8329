// Keys and values of every past position, per layer: [layer][pos][kv_dim]. F16 by default (half
// the memory traffic of F32, and what llama.cpp's goldens were computed with); F32 optional.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace omni::llm {

enum class KvType { kF16, kF32 };

class KvCache {
 public:
  KvCache(uint32_t n_layer, uint32_t n_ctx, uint32_t kv_dim, KvType type);

  uint32_t n_ctx() const { return n_ctx_; }
  uint32_t kv_dim() const { return kv_dim_; }
  KvType type() const { return type_; }
  size_t bytes() const { return 2 * size_; }

  // Stores `n` rows of kv_dim floats at positions [pos, pos + n).
  void store(uint32_t layer, uint32_t pos, uint32_t n, const float* k, const float* v);

  // Copies the row at `pos` out as floats (exact for both types).
  void load(uint32_t layer, uint32_t pos, float* k, float* v) const;

  // Raw row access: element type is uint16_t (f16 bits) or float per type().
  const void* k_row(uint32_t layer, uint32_t pos) const { return k_.get() + offset(layer, pos); }
  const void* v_row(uint32_t layer, uint32_t pos) const { return v_.get() + offset(layer, pos); }
  size_t row_bytes() const { return static_cast<size_t>(kv_dim_) * elem_; }

 private:
  size_t offset(uint32_t layer, uint32_t pos) const {
    return (static_cast<size_t>(layer) * n_ctx_ + pos) * kv_dim_ * elem_;
  }
  uint32_t n_layer_, n_ctx_, kv_dim_;
  KvType type_;
  size_t elem_;
  size_t size_;  // bytes of k_ (and of v_)
  // calloc'd, so a large cache comes as fresh zero pages that become resident only when a
  // position is first stored (resident memory follows the positions in use, not n_ctx).
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t[], Free> k_, v_;
};

}  // namespace omni::llm
