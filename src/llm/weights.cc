#include "llm/weights.h"

#include <string>

#include "core/error.h"

namespace omni::llm {
namespace {

std::string shape_str(const std::vector<uint64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

bool is_matrix_type(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q8_0: case DType::Q4_0:
    case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q4_K: case DType::Q5_K:
    case DType::Q6_K:
      return true;
    default:
      return false;
  }
}

class Binder {
 public:
  Binder(const gguf::File& f) : f_(f) {}

  const gguf::TensorInfo* get(const std::string& name, std::vector<uint64_t> shape, bool matrix,
                              bool required = true) const {
    const auto* t = f_.tensor(name);
    if (!t) {
      if (!required) return nullptr;
      throw FormatError(f_.path() + ": missing tensor '" + name + "'");
    }
    if (t->shape != shape) {
      throw FormatError(f_.path() + ": tensor '" + name + "' has shape " + shape_str(t->shape) +
                        ", expected " + shape_str(shape));
    }
    if (matrix ? !is_matrix_type(t->type) : t->type != DType::F32) {
      throw Error(f_.path() + ": tensor '" + name + "' has type " +
                  std::string(dtype_name(t->type)) + ", which this engine does not support" +
                  (matrix ? "" : " for a vector (f32 only)"));
    }
    return t;
  }

 private:
  const gguf::File& f_;
};

}  // namespace

ModelWeights bind_weights(const gguf::File& f, const LlmConfig& c) {
  const Binder b(f);
  const uint64_t e = c.n_embd, q = c.q_dim(), kv = c.kv_dim(), ff = c.n_ff, hd = c.head_dim;
  ModelWeights w;
  w.tok_embd = b.get("token_embd.weight", {e, c.n_vocab}, true);
  w.rope_freqs = b.get("rope_freqs.weight", {c.rope_dims / 2}, false, false);
  w.layers.resize(c.n_layer);
  for (uint32_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    auto& l = w.layers[i];
    l.attn_norm = b.get(p + "attn_norm.weight", {e}, false);
    l.wq = b.get(p + "attn_q.weight", {e, q}, true);
    l.wk = b.get(p + "attn_k.weight", {e, kv}, true);
    l.wv = b.get(p + "attn_v.weight", {e, kv}, true);
    if (c.qkv_bias) {
      l.bq = b.get(p + "attn_q.bias", {q}, false);
      l.bk = b.get(p + "attn_k.bias", {kv}, false);
      l.bv = b.get(p + "attn_v.bias", {kv}, false);
    }
    if (c.qk_norm) {
      l.q_norm = b.get(p + "attn_q_norm.weight", {hd}, false);
      l.k_norm = b.get(p + "attn_k_norm.weight", {hd}, false);
    }
    l.wo = b.get(p + "attn_output.weight", {q, e}, true);
    l.ffn_norm = b.get(p + "ffn_norm.weight", {e}, false);
    l.w_gate = b.get(p + "ffn_gate.weight", {e, ff}, true);
    l.w_up = b.get(p + "ffn_up.weight", {e, ff}, true);
    l.w_down = b.get(p + "ffn_down.weight", {ff, e}, true);
  }
  w.output_norm = b.get("output_norm.weight", {e}, false);
  w.output = b.get("output.weight", {e, c.n_vocab}, true, false);
  if (!w.output) w.output = w.tok_embd;
  return w;
}

}  // namespace omni::llm
