// The decoder forward pass for llama / qwen2 / qwen3, top to bottom. Shapes in comments:
// T = tokens in this batch, E = n_embd, Q = n_head * head_dim, KV = n_head_kv * head_dim.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "llm/linear.h"
#include "llm/model.h"

namespace omni::llm {
namespace {

const float* f32(const gguf::TensorInfo* t) { return reinterpret_cast<const float*>(t->data); }

void rmsnorm(const float* x, const float* w, float* out, uint32_t n, float eps) {
  double ss = 0;
  for (uint32_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
  for (uint32_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

// Rotates the first `dims` values of one head in place, as ggml does (the angle of pair i is
// pos * freq_scale * base^(-2i/dims), divided by freq_factors[i] when present).
void rope(float* x, uint32_t dims, uint32_t pos, const LlmConfig& c, const float* factors) {
  const float theta_scale = std::pow(c.rope_freq_base, -2.0f / static_cast<float>(dims));
  float theta = static_cast<float>(pos) * c.rope_freq_scale;
  const uint32_t half = dims / 2;
  for (uint32_t i = 0; i < half; ++i) {
    const float t = factors ? theta / factors[i] : theta;
    const float cs = std::cos(t), sn = std::sin(t);
    float* a;
    float* b;
    if (c.rope_mode == RopeMode::kAdjacent) {
      a = x + 2 * i;
      b = x + 2 * i + 1;
    } else {
      a = x + i;
      b = x + i + half;
    }
    const float x0 = *a, x1 = *b;
    *a = x0 * cs - x1 * sn;
    *b = x0 * sn + x1 * cs;
    theta *= theta_scale;
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

// With an F16 cache llama.cpp's attention multiplies in half precision (Q and the softmax
// probabilities are rounded to f16 as well); we round the same values so results agree.
inline float round_f16(float x) { return fp16_to_fp32(fp32_to_fp16(x)); }

}  // namespace

void Context::forward(const int32_t* tokens, uint32_t n, uint32_t out_first) {
  const LlmConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  ThreadPool& pool = *pool_;
  const uint32_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff, hd = c.head_dim;
  const uint32_t p0 = n_past();
  const bool f16_cache = cache_.type() == KvType::kF16;
  const float* rope_factors = w.rope_freqs ? f32(w.rope_freqs) : nullptr;
  const float kq_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const uint32_t group = c.n_head / c.n_head_kv;

  // x[T][E] = token embeddings
  for (uint32_t t = 0; t < n; ++t) matrix_row(*w.tok_embd, static_cast<uint64_t>(tokens[t]), &x_[size_t{t} * E]);

  for (uint32_t il = 0; il < c.n_layer; ++il) {
    if (cancel_.load(std::memory_order_relaxed)) throw Error("generation cancelled");
    const LayerWeights& L = w.layers[il];

    // xn = rmsnorm(x) * attn_norm; q/k/v = xn · W{q,k,v}ᵀ (+ bias)
    for (uint32_t t = 0; t < n; ++t) rmsnorm(&x_[size_t{t} * E], f32(L.attn_norm), &xn_[size_t{t} * E], E, c.rms_eps);
    linear(*L.wq, xn_.data(), n, q_.data(), pool);
    linear(*L.wk, xn_.data(), n, k_.data(), pool);
    linear(*L.wv, xn_.data(), n, v_.data(), pool);
    for (uint32_t t = 0; t < n; ++t) {
      float* q = &q_[size_t{t} * Q];
      float* k = &k_[size_t{t} * KV];
      float* v = &v_[size_t{t} * KV];
      if (c.qkv_bias) {
        for (uint32_t i = 0; i < Q; ++i) q[i] += f32(L.bq)[i];
        for (uint32_t i = 0; i < KV; ++i) k[i] += f32(L.bk)[i];
        for (uint32_t i = 0; i < KV; ++i) v[i] += f32(L.bv)[i];
      }
      // qwen3: RMSNorm over each head of q and k before RoPE
      if (c.qk_norm) {
        for (uint32_t h = 0; h < c.n_head; ++h) rmsnorm(q + h * hd, f32(L.q_norm), q + h * hd, hd, c.rms_eps);
        for (uint32_t h = 0; h < c.n_head_kv; ++h) rmsnorm(k + h * hd, f32(L.k_norm), k + h * hd, hd, c.rms_eps);
      }
      for (uint32_t h = 0; h < c.n_head; ++h) rope(q + h * hd, c.rope_dims, p0 + t, c, rope_factors);
      for (uint32_t h = 0; h < c.n_head_kv; ++h) rope(k + h * hd, c.rope_dims, p0 + t, c, rope_factors);
    }
    cache_.store(il, p0, n, k_.data(), v_.data());

    // attn[t][h] = softmax(q[t][h] · K[0..p0+t]ᵀ * scale) · V, causal, GQA head h -> kv h / group
    const uint32_t n_kv = p0 + n;
    pool.parallel_for(int64_t{n} * c.n_head, [&](int64_t begin, int64_t end) {
      std::vector<float> qh(hd), score(n_kv), acc(hd);
      for (int64_t job = begin; job < end; ++job) {
        const uint32_t t = static_cast<uint32_t>(job / c.n_head), h = static_cast<uint32_t>(job % c.n_head);
        const uint32_t kvh = h / group, len = p0 + t + 1;
        const float* q = &q_[size_t{t} * Q + size_t{h} * hd];
        for (uint32_t i = 0; i < hd; ++i) qh[i] = f16_cache ? round_f16(q[i]) : q[i];
        float mx = -INFINITY;
        for (uint32_t s = 0; s < len; ++s) {
          float dot = 0;
          if (f16_cache) {
            const auto* kr = static_cast<const uint16_t*>(cache_.k_row(il, s)) + size_t{kvh} * hd;
            for (uint32_t i = 0; i < hd; ++i) dot += qh[i] * fp16_to_fp32(kr[i]);
          } else {
            const auto* kr = static_cast<const float*>(cache_.k_row(il, s)) + size_t{kvh} * hd;
            for (uint32_t i = 0; i < hd; ++i) dot += qh[i] * kr[i];
          }
          score[s] = dot * kq_scale;
          mx = std::max(mx, score[s]);
        }
        float sum = 0;
        for (uint32_t s = 0; s < len; ++s) {
          score[s] = std::exp(score[s] - mx);
          sum += score[s];
        }
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (uint32_t s = 0; s < len; ++s) {
          const float p = f16_cache ? round_f16(score[s] / sum) : score[s] / sum;
          if (f16_cache) {
            const auto* vr = static_cast<const uint16_t*>(cache_.v_row(il, s)) + size_t{kvh} * hd;
            for (uint32_t i = 0; i < hd; ++i) acc[i] += p * fp16_to_fp32(vr[i]);
          } else {
            const auto* vr = static_cast<const float*>(cache_.v_row(il, s)) + size_t{kvh} * hd;
            for (uint32_t i = 0; i < hd; ++i) acc[i] += p * vr[i];
          }
        }
        std::memcpy(&attn_[size_t{t} * Q + size_t{h} * hd], acc.data(), hd * sizeof(float));
      }
    });

    // x += attn · Woᵀ
    linear(*L.wo, attn_.data(), n, xn_.data(), pool);
    for (size_t i = 0; i < size_t{n} * E; ++i) x_[i] += xn_[i];

    // x += (silu(xn · Wgateᵀ) * (xn · Wupᵀ)) · Wdownᵀ, xn = rmsnorm(x) * ffn_norm
    for (uint32_t t = 0; t < n; ++t) rmsnorm(&x_[size_t{t} * E], f32(L.ffn_norm), &xn_[size_t{t} * E], E, c.rms_eps);
    linear(*L.w_gate, xn_.data(), n, gate_.data(), pool);
    linear(*L.w_up, xn_.data(), n, up_.data(), pool);
    for (size_t i = 0; i < size_t{n} * F; ++i) gate_[i] = silu(gate_[i]) * up_[i];
    linear(*L.w_down, gate_.data(), n, xn_.data(), pool);
    for (size_t i = 0; i < size_t{n} * E; ++i) x_[i] += xn_[i];
  }

  // hidden = rmsnorm(x) * output_norm, for rows [out_first, n)
  for (uint32_t t = out_first; t < n; ++t) {
    rmsnorm(&x_[size_t{t} * E], f32(w.output_norm), &hidden_[size_t{t - out_first} * E], E, c.rms_eps);
  }
  history_.insert(history_.end(), tokens, tokens + n);
}

void Context::compute_logits(uint32_t n_rows, float* out) {
  linear(*model_->weights().output, hidden_.data(), n_rows, out, *pool_);
}

}  // namespace omni::llm
