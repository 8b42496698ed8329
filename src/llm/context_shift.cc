// Context shift: dropping a span of the KV cache and re-rotating the keys after it.
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/kernels.h"
#include "llm/model.h"

namespace omni::llm {

void Context::shift(uint32_t n_keep, uint32_t n_discard) {
  const uint32_t n = n_past();
  if (n_discard == 0) return;
  if (n_keep > n || n_discard > n - n_keep) {
    throw Error("context shift: dropping " + std::to_string(n_discard) + " positions after " +
                std::to_string(n_keep) + " exceeds the " + std::to_string(n) + " evaluated");
  }
  const LlmConfig& c = model_->config();
  // Angles of a rotation by -n_discard positions, computed as the forward pass computes them
  // (theta advanced by repeated multiplication, rope_freqs factors dividing the angle), so the
  // combined rotation matches a fresh evaluation at the new position up to rounding.
  const uint32_t half = c.rope_dims / 2;
  std::vector<float> cs(half), sn(half);
  const float* factors = model_->weights().rope_freqs
                             ? reinterpret_cast<const float*>(model_->weights().rope_freqs->data)
                             : nullptr;
  const float theta_scale = std::pow(c.rope_freq_base, -2.0f / static_cast<float>(c.rope_dims));
  float theta = -static_cast<float>(n_discard);
  for (uint32_t i = 0; i < half; ++i) {
    const float t = c.rope_freq_scale * theta / (factors ? factors[i] : 1.0f);
    cs[i] = std::cos(t);
    sn[i] = std::sin(t);
    theta *= theta_scale;
  }
  const auto mode =
      c.rope_mode == RopeMode::kAdjacent ? kernels::RopeMode::kNormal : kernels::RopeMode::kNeox;
  const uint32_t KV = c.kv_dim();
  std::vector<float> k(KV), v(KV);
  for (uint32_t il = 0; il < c.n_layer; ++il) {
    // Destinations lie below their sources, so ascending order never overwrites a row unread.
    for (uint32_t s = n_keep + n_discard; s < n; ++s) {
      cache_.load(il, s, k.data(), v.data());
      kernels::rope(k.data(), c.n_head_kv, c.head_dim, c.rope_dims, mode, cs.data(), sn.data());
      cache_.store(il, s - n_discard, 1, k.data(), v.data());
    }
  }
  history_.erase(history_.begin() + n_keep, history_.begin() + n_keep + n_discard);
  keys_.erase(keys_.begin() + n_keep, keys_.begin() + n_keep + n_discard);
}

}  // namespace omni::llm
