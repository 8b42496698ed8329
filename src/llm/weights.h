// The tensors of a llama/qwen2/qwen3 model, looked up by their GGUF names and checked against
// the configuration (shape and type) once at load, so the forward pass never meets a surprise.
#pragma once

#include <vector>

#include "core/gguf.h"
#include "llm/config.h"

namespace omni::llm {

struct LayerWeights {
  const gguf::TensorInfo* attn_norm = nullptr;
  const gguf::TensorInfo* wq = nullptr;
  const gguf::TensorInfo* wk = nullptr;
  const gguf::TensorInfo* wv = nullptr;
  const gguf::TensorInfo* bq = nullptr;  // qwen2
  const gguf::TensorInfo* bk = nullptr;
  const gguf::TensorInfo* bv = nullptr;
  const gguf::TensorInfo* q_norm = nullptr;  // qwen3
  const gguf::TensorInfo* k_norm = nullptr;
  const gguf::TensorInfo* wo = nullptr;
  const gguf::TensorInfo* ffn_norm = nullptr;
  const gguf::TensorInfo* w_gate = nullptr;
  const gguf::TensorInfo* w_up = nullptr;
  const gguf::TensorInfo* w_down = nullptr;
};

struct ModelWeights {
  const gguf::TensorInfo* tok_embd = nullptr;
  const gguf::TensorInfo* rope_freqs = nullptr;  // optional per-dimension frequency divisors
  std::vector<LayerWeights> layers;
  const gguf::TensorInfo* output_norm = nullptr;
  const gguf::TensorInfo* output = nullptr;  // == tok_embd when the embeddings are tied
};

// Throws omni::FormatError naming the tensor for a missing tensor or a wrong shape, and
// omni::Error for a weight type the engine cannot compute with.
ModelWeights bind_weights(const gguf::File& file, const LlmConfig& config);

}  // namespace omni::llm
