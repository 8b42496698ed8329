#include "llm_gen.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "core/dtype.h"
#include "core/error.h"
#include "core/gguf.h"
#include "core/half.h"
#include "core/quant.h"
#include "rng.h"

namespace omni::gen {
namespace {

using gguf::Value;

std::optional<LlmShape> preset(const std::string& name) {
  LlmShape s;
  if (name == "qwen2-0.5b") {  // Qwen2.5-0.5B
    s.arch = "qwen2";
    s.n_layer = 24, s.n_embd = 896, s.n_head = 14, s.n_head_kv = 2, s.n_ff = 4864;
    s.n_vocab = 151936, s.n_ctx = 32768, s.tied_embeddings = true;
    s.rope_freq_base = 1000000.0f, s.rms_eps = 1e-6f;
  } else if (name == "qwen3-0.6b") {  // Qwen3-0.6B: head_dim 128 != n_embd / n_head
    s.arch = "qwen3";
    s.n_layer = 28, s.n_embd = 1024, s.n_head = 16, s.n_head_kv = 8, s.head_dim = 128;
    s.n_ff = 3072, s.n_vocab = 151936, s.n_ctx = 40960, s.tied_embeddings = true;
    s.rope_freq_base = 1000000.0f, s.rms_eps = 1e-6f;
  } else if (name == "llama-1b") {  // Llama 3.2 1B
    s.arch = "llama";
    s.n_layer = 16, s.n_embd = 2048, s.n_head = 32, s.n_head_kv = 8, s.n_ff = 8192;
    s.n_vocab = 128256, s.n_ctx = 131072, s.tied_embeddings = true;
    s.rope_freq_base = 500000.0f, s.rms_eps = 1e-5f, s.llama3_rope = true;
  } else if (name == "tiny-llama") {
    s.arch = "llama";
    s.n_layer = 2, s.n_embd = 64, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 192, s.n_ctx = 256;
  } else if (name == "tiny-qwen2") {
    s.arch = "qwen2";
    s.n_layer = 2, s.n_embd = 64, s.n_head = 4, s.n_head_kv = 2, s.n_ff = 160, s.n_ctx = 256;
    s.tied_embeddings = true, s.rope_freq_base = 1000000.0f, s.rms_eps = 1e-6f;
  } else if (name == "tiny-qwen3") {
    s.arch = "qwen3";
    s.n_layer = 2, s.n_embd = 64, s.n_head = 4, s.n_head_kv = 2, s.head_dim = 32, s.n_ff = 128;
    s.n_ctx = 256, s.tied_embeddings = true, s.rope_freq_base = 1000000.0f, s.rms_eps = 1e-6f;
  } else {
    return std::nullopt;
  }
  return s;
}

// llama_ftype numbers written to general.file_type.
uint32_t file_type_id(const std::string& t) {
  if (t == "f32") return 0;
  if (t == "f16") return 1;
  if (t == "q4_0") return 2;
  if (t == "q4_1") return 3;
  if (t == "q8_0") return 7;
  if (t == "q5_0") return 8;
  if (t == "q5_1") return 9;
  if (t == "q4_K" || t == "q4_K_M") return 15;
  if (t == "q6_K") return 18;
  if (t == "bf16") return 32;
  throw Error("omni-gen: unsupported weight type '" + t + "'");
}

bool fits(DType t, uint64_t ne0) { return ne0 % dtype_info(t).block_size == 0; }

// K-quants need rows that are a multiple of 256; llama-quantize substitutes these types.
DType fallback(DType t, uint64_t ne0) {
  if (fits(t, ne0)) return t;
  switch (t) {
    case DType::Q4_K: return fits(DType::Q5_0, ne0) ? DType::Q5_0 : DType::F16;
    case DType::Q5_K: return fits(DType::Q5_1, ne0) ? DType::Q5_1 : DType::F16;
    case DType::Q6_K: return fits(DType::Q8_0, ne0) ? DType::Q8_0 : DType::F16;
    default: return DType::F16;
  }
}

// The "more bits" layers of llama.cpp's Q4_K_M mix: first and last eighth, and every third.
bool use_more_bits(uint32_t i, uint32_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i >= n / 8 && (i - n / 8) % 3 == 2);
}

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> shape;  // ggml ne
  enum Kind { kMatrix, kNorm, kBias, kRopeFreqs } kind;
  int layer = -1;
};

DType choose_type(const TensorSpec& t, const std::string& type, bool pure, bool is_output,
                  uint32_t n_layer) {
  if (t.kind != TensorSpec::kMatrix) return DType::F32;
  const uint64_t ne0 = t.shape[0];
  if (type == "q4_K_M") {
    DType want = DType::Q4_K;
    if (is_output) want = DType::Q6_K;
    const bool v_or_down = t.name.ends_with("attn_v.weight") || t.name.ends_with("ffn_down.weight");
    if (v_or_down && use_more_bits(static_cast<uint32_t>(t.layer), n_layer)) want = DType::Q6_K;
    return fallback(want, ne0);
  }
  const DType base = *dtype_from_name(type);
  if (pure || !dtype_info(base).quantized || base == DType::Q8_0) {
    if (!fits(base, ne0)) {
      if (pure) {
        throw Error("omni-gen: tensor '" + t.name + "' row of " + std::to_string(ne0) +
                    " elements is not a multiple of the " + std::string(dtype_name(base)) +
                    " block");
      }
      return fallback(base, ne0);
    }
    return base;
  }
  // llama-quantize keeps the output matrix at higher precision (Q6_K, else Q8_0).
  if (is_output) return fallback(DType::Q6_K, ne0);
  return fallback(base, ne0);
}

std::vector<TensorSpec> tensor_specs(const LlmShape& s, uint32_t n_vocab) {
  const uint64_t hd = s.head_dim ? s.head_dim : s.n_embd / s.n_head;
  const uint64_t q_dim = hd * s.n_head, kv_dim = hd * s.n_head_kv, e = s.n_embd, ff = s.n_ff;
  std::vector<TensorSpec> v;
  v.push_back({"token_embd.weight", {e, n_vocab}, TensorSpec::kMatrix});
  if (s.llama3_rope) v.push_back({"rope_freqs.weight", {hd / 2}, TensorSpec::kRopeFreqs});
  for (uint32_t i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const int l = static_cast<int>(i);
    v.push_back({p + "attn_norm.weight", {e}, TensorSpec::kNorm, l});
    v.push_back({p + "attn_q.weight", {e, q_dim}, TensorSpec::kMatrix, l});
    v.push_back({p + "attn_k.weight", {e, kv_dim}, TensorSpec::kMatrix, l});
    v.push_back({p + "attn_v.weight", {e, kv_dim}, TensorSpec::kMatrix, l});
    if (s.arch == "qwen2") {
      v.push_back({p + "attn_q.bias", {q_dim}, TensorSpec::kBias, l});
      v.push_back({p + "attn_k.bias", {kv_dim}, TensorSpec::kBias, l});
      v.push_back({p + "attn_v.bias", {kv_dim}, TensorSpec::kBias, l});
    }
    if (s.arch == "qwen3") {
      v.push_back({p + "attn_q_norm.weight", {hd}, TensorSpec::kNorm, l});
      v.push_back({p + "attn_k_norm.weight", {hd}, TensorSpec::kNorm, l});
    }
    v.push_back({p + "attn_output.weight", {q_dim, e}, TensorSpec::kMatrix, l});
    v.push_back({p + "ffn_norm.weight", {e}, TensorSpec::kNorm, l});
    v.push_back({p + "ffn_gate.weight", {e, ff}, TensorSpec::kMatrix, l});
    v.push_back({p + "ffn_up.weight", {e, ff}, TensorSpec::kMatrix, l});
    v.push_back({p + "ffn_down.weight", {ff, e}, TensorSpec::kMatrix, l});
  }
  v.push_back({"output_norm.weight", {e}, TensorSpec::kNorm});
  if (!s.tied_embeddings) v.push_back({"output.weight", {e, n_vocab}, TensorSpec::kMatrix});
  return v;
}

// Llama 3.x frequency factors (factor 32, low 1, high 4, original context 8192), as the
// converter stores them in rope_freqs.weight.
std::vector<float> llama3_rope_factors(uint64_t head_dim, float base) {
  const double factor = 32, low = 1, high = 4, orig = 8192;
  const double low_wavelen = orig / low, high_wavelen = orig / high;
  std::vector<float> out;
  for (uint64_t i = 0; i < head_dim; i += 2) {
    const double freq = 1.0 / std::pow(static_cast<double>(base), static_cast<double>(i) / head_dim);
    const double wavelen = 2 * std::numbers::pi / freq;
    double f;
    if (wavelen < high_wavelen) {
      f = 1;
    } else if (wavelen > low_wavelen) {
      f = factor;
    } else {
      const double smooth = (orig / wavelen - low) / (high - low);
      f = 1 / ((1 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

std::vector<uint8_t> encode(const std::vector<float>& x, DType type, uint64_t ne0) {
  const uint64_t rows = x.size() / ne0;
  const uint64_t rb = *row_bytes(type, ne0);
  std::vector<uint8_t> out(rows * rb);
  for (uint64_t r = 0; r < rows; ++r) {
    quantize_row(type, x.data() + r * ne0, out.data() + r * rb, static_cast<int64_t>(ne0));
  }
  return out;
}

}  // namespace

std::optional<LlmShape> llm_preset(const std::string& name) { return preset(name); }

std::vector<std::string> llm_preset_names() {
  return {"qwen2-0.5b", "qwen3-0.6b", "llama-1b", "tiny-llama", "tiny-qwen2", "tiny-qwen3"};
}

void generate_llm(const LlmShape& s, const LlmGenOptions& o, const std::string& path) {
  if (s.arch != "llama" && s.arch != "qwen2" && s.arch != "qwen3") {
    throw Error("omni-gen: unknown architecture '" + s.arch + "' (llama, qwen2, qwen3)");
  }
  if (s.n_layer == 0 || s.n_embd == 0 || s.n_head == 0 || s.n_head_kv == 0 || s.n_ff == 0 ||
      s.n_head % s.n_head_kv != 0 || (s.head_dim == 0 && s.n_embd % s.n_head != 0)) {
    throw Error("omni-gen: inconsistent shape (layers, n_embd, heads, kv heads, ff)");
  }
  const uint64_t hd = s.head_dim ? s.head_dim : s.n_embd / s.n_head;
  if (hd % 2 != 0) throw Error("omni-gen: head dimension must be even for RoPE");
  if (o.vocab_from.empty()) throw Error("omni-gen: --vocab-from FILE.gguf is required");
  const std::string type = o.type;
  const uint32_t ftype = file_type_id(type);

  const auto vocab = gguf::File::open(o.vocab_from);
  const gguf::Array* tokens = vocab.get_array("tokenizer.ggml.tokens");
  if (!tokens) throw Error(o.vocab_from + ": no tokenizer.ggml.tokens");
  const uint64_t vocab_tokens = tokens->items.size();
  const uint64_t n_vocab = s.n_vocab ? s.n_vocab : vocab_tokens;
  if (n_vocab < vocab_tokens) {
    throw Error("omni-gen: vocab size " + std::to_string(n_vocab) + " is smaller than the " +
                std::to_string(vocab_tokens) + " tokens of " + o.vocab_from);
  }

  gguf::Writer w;
  const std::string& a = s.arch;
  w.set("general.architecture", gguf::make_string(a));
  w.set("general.name", gguf::make_string(o.name.empty() ? a + "-random" : o.name));
  w.set("general.file_type", gguf::make_u32(ftype));
  if (ftype != 0 && ftype != 1 && ftype != 32) w.set("general.quantization_version", gguf::make_u32(2));
  w.set(a + ".vocab_size", gguf::make_u32(static_cast<uint32_t>(n_vocab)));
  w.set(a + ".context_length", gguf::make_u32(s.n_ctx));
  w.set(a + ".embedding_length", gguf::make_u32(s.n_embd));
  w.set(a + ".block_count", gguf::make_u32(s.n_layer));
  w.set(a + ".feed_forward_length", gguf::make_u32(s.n_ff));
  w.set(a + ".attention.head_count", gguf::make_u32(s.n_head));
  w.set(a + ".attention.head_count_kv", gguf::make_u32(s.n_head_kv));
  if (s.head_dim) {
    w.set(a + ".attention.key_length", gguf::make_u32(s.head_dim));
    w.set(a + ".attention.value_length", gguf::make_u32(s.head_dim));
  }
  w.set(a + ".rope.dimension_count", gguf::make_u32(static_cast<uint32_t>(hd)));
  w.set(a + ".rope.freq_base", gguf::make_f32(s.rope_freq_base));
  w.set(a + ".attention.layer_norm_rms_epsilon", gguf::make_f32(s.rms_eps));

  // Tokenizer: copied verbatim, padded with unused tokens up to the model's vocab size.
  for (const auto& kv : vocab.metadata()) {
    if (!kv.key.starts_with("tokenizer.")) continue;
    gguf::Value v = kv.value;
    if (n_vocab > vocab_tokens) {
      auto* arr = std::get_if<gguf::Array>(&v.v);
      if (arr && arr->items.size() == vocab_tokens) {
        for (uint64_t i = vocab_tokens; i < n_vocab; ++i) {
          if (kv.key == "tokenizer.ggml.tokens") {
            arr->items.push_back(gguf::make_string("[PAD" + std::to_string(i) + "]"));
          } else if (kv.key == "tokenizer.ggml.token_type") {
            arr->items.push_back(gguf::make_i32(5));  // UNUSED
          } else if (kv.key == "tokenizer.ggml.scores") {
            arr->items.push_back(gguf::make_f32(0.0f));
          }
        }
      }
    }
    w.set(kv.key, std::move(v));
  }

  const auto specs = tensor_specs(s, static_cast<uint32_t>(n_vocab));
  std::vector<float> buf;
  for (size_t ti = 0; ti < specs.size(); ++ti) {
    const auto& t = specs[ti];
    uint64_t n = 1;
    for (auto d : t.shape) n *= d;
    buf.assign(n, 0.0f);
    switch (t.kind) {
      case TensorSpec::kNorm: std::fill(buf.begin(), buf.end(), 1.0f); break;
      case TensorSpec::kRopeFreqs: buf = llama3_rope_factors(hd, s.rope_freq_base); break;
      case TensorSpec::kBias:
      case TensorSpec::kMatrix: fill_normal(buf.data(), n, o.seed, ti, o.stddev); break;
    }
    const bool is_output = t.name == "output.weight" ||
                           (s.tied_embeddings && t.name == "token_embd.weight");
    const DType dt = choose_type(t, type, o.pure, is_output, s.n_layer);
    const auto bytes = encode(buf, dt, t.shape[0]);
    w.add_tensor(t.name, dt, t.shape, bytes);
  }
  w.write(path);
}

}  // namespace omni::gen
