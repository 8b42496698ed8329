#include "llm/config.h"

#include "core/error.h"

namespace omni::llm {
namespace {

uint32_t required_u32(const gguf::File& f, const std::string& key) {
  const auto v = f.get_int(key);
  if (!v) throw FormatError(f.path() + ": missing metadata key '" + key + "'");
  if (*v <= 0 || *v > (int64_t{1} << 31)) {
    throw FormatError(f.path() + ": metadata '" + key + "' = " + std::to_string(*v) + " is out of range");
  }
  return static_cast<uint32_t>(*v);
}

uint32_t optional_u32(const gguf::File& f, const std::string& key, uint32_t fallback) {
  return f.find(key) ? required_u32(f, key) : fallback;
}

}  // namespace

LlmConfig read_config(const gguf::File& f) {
  LlmConfig c;
  c.arch = f.architecture();
  if (c.arch.empty()) throw FormatError(f.path() + ": missing metadata key 'general.architecture'");
  if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "qwen3") {
    throw Error(f.path() + ": architecture '" + c.arch +
                "' is not supported (supported: llama, qwen2, qwen3)");
  }
  const std::string a = c.arch + ".";
  c.name = f.get_string("general.name").value_or("");
  c.n_layer = required_u32(f, a + "block_count");
  c.n_embd = required_u32(f, a + "embedding_length");
  c.n_head = required_u32(f, a + "attention.head_count");
  c.n_head_kv = optional_u32(f, a + "attention.head_count_kv", c.n_head);
  c.n_ff = required_u32(f, a + "feed_forward_length");
  c.n_ctx_train = optional_u32(f, a + "context_length", 2048);
  if (c.n_head % c.n_head_kv != 0) {
    throw FormatError(f.path() + ": head_count " + std::to_string(c.n_head) +
                      " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
  }
  c.head_dim = optional_u32(f, a + "attention.key_length", c.n_embd / c.n_head);
  const uint32_t v_len = optional_u32(f, a + "attention.value_length", c.head_dim);
  if (v_len != c.head_dim) {
    throw Error(f.path() + ": value_length " + std::to_string(v_len) + " != key_length " +
                std::to_string(c.head_dim) + " is not supported");
  }
  if (c.head_dim == 0 || c.head_dim % 2 != 0) {
    throw FormatError(f.path() + ": head dimension " + std::to_string(c.head_dim) + " must be even");
  }
  c.rope_dims = optional_u32(f, a + "rope.dimension_count", c.head_dim);
  if (c.rope_dims > c.head_dim || c.rope_dims % 2 != 0) {
    throw FormatError(f.path() + ": rope.dimension_count " + std::to_string(c.rope_dims) +
                      " does not fit head dimension " + std::to_string(c.head_dim));
  }
  if (auto eps = f.get_float(a + "attention.layer_norm_rms_epsilon")) c.rms_eps = static_cast<float>(*eps);
  if (auto base = f.get_float(a + "rope.freq_base")) c.rope_freq_base = static_cast<float>(*base);
  if (auto type = f.get_string(a + "rope.scaling.type"); type && *type != "none") {
    if (*type != "linear") {
      throw Error(f.path() + ": rope scaling type '" + *type + "' is not supported (linear only)");
    }
    const auto factor = f.get_float(a + "rope.scaling.factor");
    if (factor && *factor > 0) c.rope_freq_scale = static_cast<float>(1.0 / *factor);
  }
  c.rope_mode = c.arch == "llama" ? RopeMode::kAdjacent : RopeMode::kNeox;
  c.qkv_bias = c.arch == "qwen2";
  c.qk_norm = c.arch == "qwen3";
  // The vocabulary size is the embedding matrix's row count (checked by the weight loader).
  const auto* embd = f.tensor("token_embd.weight");
  if (!embd || embd->shape.size() != 2) {
    throw FormatError(f.path() + ": missing or malformed tensor 'token_embd.weight'");
  }
  c.n_vocab = static_cast<uint32_t>(embd->shape[1]);
  return c;
}

}  // namespace omni::llm
