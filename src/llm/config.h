// Hyper-parameters of a decoder-only language model, read from GGUF metadata. One struct for the
// llama, qwen2 and qwen3 families: they differ only in flags (biases, q/k norm, RoPE layout).
#pragma once

#include <cstdint>
#include <string>

#include "core/gguf.h"

namespace omni::llm {

enum class RopeMode { kAdjacent, kNeox };  // llama: pairs (2i, 2i+1); qwen: pairs (i, i + d/2)

struct LlmConfig {
  std::string arch;
  std::string name;
  uint32_t n_layer = 0;
  uint32_t n_embd = 0;
  uint32_t n_head = 0;
  uint32_t n_head_kv = 0;
  uint32_t head_dim = 0;  // key/value length per head
  uint32_t n_ff = 0;
  uint32_t n_vocab = 0;
  uint32_t n_ctx_train = 0;
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / linear scaling factor
  uint32_t rope_dims = 0;        // rotated dimensions per head (<= head_dim)
  RopeMode rope_mode = RopeMode::kAdjacent;
  bool qkv_bias = false;  // qwen2
  bool qk_norm = false;   // qwen3

  uint32_t q_dim() const { return n_head * head_dim; }
  uint32_t kv_dim() const { return n_head_kv * head_dim; }
};

// Throws omni::FormatError naming the file and key when a required key is missing or
// inconsistent, and omni::Error for an architecture this engine does not implement.
LlmConfig read_config(const gguf::File& file);

}  // namespace omni::llm
