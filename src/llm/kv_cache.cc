#include "llm/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/half.h"
#include "core/kernels.h"

namespace omni::llm {

KvCache::KvCache(uint32_t n_layer, uint32_t n_ctx, uint32_t kv_dim, KvType type)
    : n_layer_(n_layer), n_ctx_(n_ctx), kv_dim_(kv_dim), type_(type),
      elem_(type == KvType::kF16 ? 2 : 4),
      size_(static_cast<size_t>(n_layer) * n_ctx * kv_dim * elem_) {
  const size_t n = std::max<size_t>(size_, 1);
  k_.reset(static_cast<uint8_t*>(std::calloc(n, 1)));
  v_.reset(static_cast<uint8_t*>(std::calloc(n, 1)));
  if (!k_ || !v_) {
    throw Error("kv cache: cannot allocate 2 x " + std::to_string(size_) + " bytes (" +
                std::to_string(n_ctx) + " positions)");
  }
}

void KvCache::store(uint32_t layer, uint32_t pos, uint32_t n, const float* k, const float* v) {
  if (layer >= n_layer_ || pos + n > n_ctx_) throw Error("kv cache: store past the context size");
  const size_t count = static_cast<size_t>(n) * kv_dim_;
  uint8_t* kd = k_.get() + offset(layer, pos);
  uint8_t* vd = v_.get() + offset(layer, pos);
  if (type_ == KvType::kF32) {
    std::memcpy(kd, k, count * 4);
    std::memcpy(vd, v, count * 4);
    return;
  }
  // The level's vector conversion (round to nearest even, as fp32_to_fp16): the scalar loop
  // took a microsecond per layer of every decoded token.
  const kernels::KernelTable& kt = kernels::active();
  kt.fp32_to_fp16_row(k, static_cast<int64_t>(count), reinterpret_cast<uint16_t*>(kd));
  kt.fp32_to_fp16_row(v, static_cast<int64_t>(count), reinterpret_cast<uint16_t*>(vd));
}

void KvCache::load(uint32_t layer, uint32_t pos, float* k, float* v) const {
  if (layer >= n_layer_ || pos >= n_ctx_) throw Error("kv cache: load past the context size");
  const uint8_t* kd = k_.get() + offset(layer, pos);
  const uint8_t* vd = v_.get() + offset(layer, pos);
  if (type_ == KvType::kF32) {
    std::memcpy(k, kd, size_t{kv_dim_} * 4);
    std::memcpy(v, vd, size_t{kv_dim_} * 4);
    return;
  }
  for (uint32_t i = 0; i < kv_dim_; ++i) {
    uint16_t kh, vh;
    std::memcpy(&kh, kd + 2 * size_t{i}, 2);
    std::memcpy(&vh, vd + 2 * size_t{i}, 2);
    k[i] = fp16_to_fp32(kh);
    v[i] = fp16_to_fp32(vh);
  }
}

}  // namespace omni::llm
