// Random-weight GGUF language models of real architectures and shapes (llama, qwen2, qwen3), for
// tests and benchmarks: compute cost does not depend on the weight values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace omni::gen {

struct LlmShape {
  std::string arch = "llama";  // llama | qwen2 | qwen3
  uint32_t n_layer = 2;
  uint32_t n_embd = 64;
  uint32_t n_head = 4;
  uint32_t n_head_kv = 2;
  uint32_t head_dim = 0;  // 0: n_embd / n_head
  uint32_t n_ff = 192;
  uint32_t n_vocab = 0;  // 0: the tokenizer's own size; larger pads with unused tokens
  uint32_t n_ctx = 2048;
  bool tied_embeddings = false;
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool llama3_rope = false;  // write rope_freqs.weight with Llama 3.x frequency scaling
};

struct LlmGenOptions {
  std::string vocab_from;  // GGUF whose tokenizer.* keys are copied
  std::string type = "f32";  // f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_K q6_K q4_K_M
  bool pure = false;  // every matrix exactly `type` (no llama-quantize style mix)
  uint64_t seed = 1;
  float stddev = 0.02f;
  std::string name;  // general.name
};

// Real shapes: qwen2-0.5b, qwen3-0.6b, llama-1b, and small ones for tests (tiny-llama, tiny-qwen2,
// tiny-qwen3).
std::optional<LlmShape> llm_preset(const std::string& name);
std::vector<std::string> llm_preset_names();

// Writes the model to `path`. Throws omni::Error on a bad shape or I/O failure.
void generate_llm(const LlmShape& shape, const LlmGenOptions& opts, const std::string& path);

}  // namespace omni::gen
