// The decoder forward pass for llama / qwen2 / qwen3, top to bottom. Shapes in comments:
// T = tokens in this batch, E = n_embd, Q = n_head * head_dim, KV = n_head_kv * head_dim.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/thread_pool.h"
#include "llm/decode_matvec.h"
#include "llm/linear.h"
#include "llm/model.h"

namespace omni::llm {
namespace {

const float* f32(const gguf::TensorInfo* t) { return reinterpret_cast<const float*>(t->data); }

// cos/sin of every rotated pair at position `pos`, as ggml computes the angles (theta advanced
// by repeated multiplication in float); `factors` (Llama 3 rope_freqs) divide the angles.
void rope_angles(uint32_t pos, const LlmConfig& c, const float* factors, float* cs, float* sn) {
  kernels::rope_cache(static_cast<float>(pos), c.rope_dims, c.rope_freq_base, c.rope_freq_scale, cs, sn);
  if (!factors) return;
  const float theta_scale = std::pow(c.rope_freq_base, -2.0f / static_cast<float>(c.rope_dims));
  float theta = static_cast<float>(pos);
  for (uint32_t i = 0; i < c.rope_dims / 2; ++i) {
    const float t = c.rope_freq_scale * theta / factors[i];
    cs[i] = std::cos(t);
    sn[i] = std::sin(t);
    theta *= theta_scale;
  }
}

// Projects the same input through several matrices, quantizing the activations once per weight
// format (Q, K and V, or gate and up, usually share one).
void project(std::initializer_list<std::pair<const gguf::TensorInfo*, float*>> outs, const float* x,
             uint32_t n, uint32_t cols, ThreadPool& pool) {
  thread_local kernels::Activations act[3];
  bool ready[3] = {false, false, false};
  for (const auto& [w, y] : outs) {
    const auto fmt = static_cast<size_t>(kernels::act_format(w->type));
    if (!ready[fmt]) {
      act[fmt].quantize(w->type, x, n, cols);
      ready[fmt] = true;
    }
    kernels::matmul(w->type, w->data, static_cast<int64_t>(w->rows()), act[fmt], y, &pool);
  }
}

}  // namespace

void Context::forward(const int32_t* tokens, uint32_t n, uint32_t out_first) {
  const ModelWeights& w = model_->weights();
  const uint32_t E = model_->config().n_embd;
  reserve_rows(n);
  // x[T][E] = token embeddings
  for (uint32_t t = 0; t < n; ++t) matrix_row(*w.tok_embd, static_cast<uint64_t>(tokens[t]), &x_[size_t{t} * E]);
  std::vector<uint64_t> keys(n);
  for (uint32_t t = 0; t < n; ++t) keys[t] = token_key(tokens[t]);
  forward_rows(n, out_first, tokens, keys.data());
}

void Context::forward_rows(uint32_t n, uint32_t out_first, const int32_t* ids, const uint64_t* keys) {
  const LlmConfig& c = model_->config();
  const ModelWeights& w = model_->weights();
  ThreadPool& pool = *pool_;
  const uint32_t E = c.n_embd, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff, hd = c.head_dim;
  const uint32_t p0 = n_past();
  reserve_rows(n);  // no-op after forward() / eval(Prompt), which fill x_ first
  const bool f16_cache = cache_.type() == KvType::kF16;
  const float* rope_factors = w.rope_freqs ? f32(w.rope_freqs) : nullptr;
  const float kq_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const uint32_t group = c.n_head / c.n_head_kv;
  // Row-wise elementwise steps over the pool for a batch (each row's values are computed as
  // they were serially); a single row runs inline.
  const auto by_rows = [&pool](uint32_t rows, auto&& fn) {
    pool.parallel_for(rows, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) fn(static_cast<uint32_t>(t));
    }, 8);
  };

  // RoPE angles of this batch's positions, shared by every layer.
  const auto rope_mode = c.rope_mode == RopeMode::kAdjacent ? kernels::RopeMode::kNormal : kernels::RopeMode::kNeox;
  for (uint32_t t = 0; t < n; ++t) {
    rope_angles(p0 + t, c, rope_factors, &rope_cos_[size_t{t} * (c.rope_dims / 2)],
                &rope_sin_[size_t{t} * (c.rope_dims / 2)]);
  }

  for (uint32_t il = 0; il < c.n_layer; ++il) {
    if (cancel_.load(std::memory_order_relaxed)) throw Error("generation cancelled");
    const LayerWeights& L = w.layers[il];

    // xn = rmsnorm(x) * attn_norm; q/k/v = xn · W{q,k,v}ᵀ (+ bias)
    by_rows(n, [&](uint32_t t) {
      kernels::rms_norm(&x_[size_t{t} * E], f32(L.attn_norm), c.rms_eps, E, &xn_[size_t{t} * E]);
    });
    project({{L.wq, q_.data()}, {L.wk, k_.data()}, {L.wv, v_.data()}}, xn_.data(), n, E, pool);
    by_rows(n, [&](uint32_t t) {
      float* q = &q_[size_t{t} * Q];
      float* k = &k_[size_t{t} * KV];
      if (c.qkv_bias) {
        kernels::add(q, f32(L.bq), Q, q);
        kernels::add(k, f32(L.bk), KV, k);
        kernels::add(&v_[size_t{t} * KV], f32(L.bv), KV, &v_[size_t{t} * KV]);
      }
      // qwen3: RMSNorm over each head of q and k before RoPE
      if (c.qk_norm) {
        for (uint32_t h = 0; h < c.n_head; ++h) kernels::rms_norm(q + h * hd, f32(L.q_norm), c.rms_eps, hd, q + h * hd);
        for (uint32_t h = 0; h < c.n_head_kv; ++h) kernels::rms_norm(k + h * hd, f32(L.k_norm), c.rms_eps, hd, k + h * hd);
      }
      const float* cs = &rope_cos_[size_t{t} * (c.rope_dims / 2)];
      const float* sn = &rope_sin_[size_t{t} * (c.rope_dims / 2)];
      kernels::rope(q, c.n_head, hd, c.rope_dims, rope_mode, cs, sn);
      kernels::rope(k, c.n_head_kv, hd, c.rope_dims, rope_mode, cs, sn);
    });
    cache_.store(il, p0, n, k_.data(), v_.data());

    // attn[t][h] = softmax(q[t][h] · K[0..p0+t]ᵀ * scale) · V, causal, GQA head h -> kv h / group.
    // An F16 cache is widened to f32 once per layer (exact), so every head of a GQA group and
    // every token of the batch reads plain floats.
    const uint32_t n_kv = p0 + n;
    const float* kf = static_cast<const float*>(cache_.k_row(il, 0));
    const float* vf = static_cast<const float*>(cache_.v_row(il, 0));
    // Columns [c0, c0 + nc) of every cached row, widened into kf_ / vf_.
    const auto widen = [&](uint32_t s0, uint32_t s1, uint32_t c0, uint32_t nc) {
      for (uint32_t s = s0; s < s1; ++s) {
        const size_t at = size_t{s} * KV + c0;
        kernels::fp16_to_fp32_row(static_cast<const uint16_t*>(cache_.k_row(il, s)) + c0, nc, &kf_[at]);
        kernels::fp16_to_fp32_row(static_cast<const uint16_t*>(cache_.v_row(il, s)) + c0, nc, &vf_[at]);
      }
    };
    if (f16_cache) {
      kf_.resize(size_t{n_kv} * KV);
      vf_.resize(size_t{n_kv} * KV);
      kf = kf_.data();
      vf = vf_.data();
    }
    // A decode step with at least one KV head per thread widens and attends per KV head in one
    // dispatch (a GQA group's heads read only their KV head's columns); otherwise the cache is
    // widened first, over positions.
    const bool per_kv_head = n == 1 && c.n_head_kv >= static_cast<uint32_t>(pool.size());
    if (f16_cache && !per_kv_head) {
      pool.parallel_for(n_kv, [&](int64_t b, int64_t e) {
        widen(static_cast<uint32_t>(b), static_cast<uint32_t>(e), 0, KV);
      }, 16);
    }
    // With an F16 cache llama.cpp's attention multiplies in half precision (Q and the softmax
    // probabilities are rounded to f16 as well); we round the same values so results agree.
    // Queries go in blocks of 4 per head: scores come from 4x4 register tiles (4 queries x 4
    // cached keys) and the weighted sum of V rows from one pass over V for all 4 queries, so K
    // and V are read once per block instead of once per token. Positions past a query's causal
    // end get probability 0.
    // The last layer's keys and values go to the cache for every row, but only rows
    // [out_first, n) feed an output: the others stop here (as in llama.cpp). Every row is its
    // own product in every kernel below, so the kept rows' values do not change.
    const uint32_t r0 = il + 1 == c.n_layer ? std::min(out_first, n) : 0, nr = n - r0;
    if (nr == 0) continue;
    const kernels::KernelTable& kt = kernels::active();
    // Query block blk of head h (scratch is per thread and fully written before it is read).
    const auto attend = [&](uint32_t blk, uint32_t h) {
      thread_local std::vector<float> qb, score, out;
      thread_local std::vector<uint16_t> half;
      qb.resize(size_t{4} * hd);
      score.resize(size_t{4} * n_kv);
      out.resize(size_t{4} * hd);
      half.resize(std::max(n_kv, hd));
      float tile[16];
      const uint32_t t0 = 4 * blk, nq = std::min(4u, n - t0), kvh = h / group;
      const uint32_t len = p0 + t0 + nq;  // keys seen by the block's last query
      for (uint32_t a = 0; a < nq; ++a) {
        const float* q = &q_[size_t{t0 + a} * Q + size_t{h} * hd];
        if (f16_cache) {
          kt.fp32_to_fp16_row(q, hd, half.data());
          kt.fp16_to_fp32_row(half.data(), hd, &qb[a * hd]);
        } else {
          std::memcpy(&qb[a * hd], q, hd * sizeof(float));
        }
      }
      const float* kh = kf + size_t{kvh} * hd;
      uint32_t s = 0;
      if (nq == 4 && kt.tile4x4_f32 != nullptr) {
        for (; s + 4 <= len; s += 4) {
          kt.tile4x4_f32(kh + size_t{s} * KV, KV, qb.data(), hd, hd, tile);
          for (uint32_t a = 0; a < 4; ++a) {
            for (uint32_t r = 0; r < 4; ++r) score[a * len + s + r] = tile[4 * a + r];
          }
        }
      }
      for (; s < len; ++s) {
        for (uint32_t a = 0; a < nq; ++a) score[a * len + s] = kt.dot_f32(kh + size_t{s} * KV, &qb[a * hd], hd);
      }
      for (uint32_t a = 0; a < 4; ++a) {
        float* sc = &score[a * len];
        const uint32_t la = a < nq ? p0 + t0 + a + 1 : 0;
        if (la > 0) kt.softmax(sc, la, kq_scale, nullptr);
        if (f16_cache) {
          kt.fp32_to_fp16_row(sc, la, half.data());
          kt.fp16_to_fp32_row(half.data(), la, sc);
        }
        std::fill(sc + la, sc + len, 0.0f);
      }
      kt.attn_pv4(score.data(), len, len, vf + size_t{kvh} * hd, KV, hd, out.data(), hd);
      for (uint32_t a = 0; a < nq; ++a) {
        std::memcpy(&attn_[size_t{t0 + a} * Q + size_t{h} * hd], &out[a * hd], hd * sizeof(float));
      }
    };
    if (per_kv_head) {
      const int nt = pool.size();
      pool.parallel_for(c.n_head_kv, [&](int64_t b, int64_t e) {
        for (auto kvh = static_cast<uint32_t>(b); kvh < e; ++kvh) {
          if (f16_cache) widen(0, n_kv, kvh * hd, hd);
          // Each head's attention is followed by a slice of the O projection's bytes that this
          // thread will likely multiply first, so memory streams while attention computes.
          const auto slot = static_cast<int>(kvh);
          for (uint32_t h = kvh * group; h < (kvh + 1) * group; ++h) {
            attend(0, h);
            const auto part = static_cast<int>(h - kvh * group);
            if (slot < nt) prefetch_first_run(*L.wo, slot, nt, part, static_cast<int>(group));
          }
        }
      });
    } else {
      const uint32_t blk0 = r0 / 4, n_blocks = (n + 3) / 4 - blk0;
      pool.parallel_for(int64_t{n_blocks} * c.n_head, [&](int64_t begin, int64_t end) {
        for (int64_t job = begin; job < end; ++job) {
          attend(blk0 + static_cast<uint32_t>(job / c.n_head), static_cast<uint32_t>(job % c.n_head));
        }
      });
    }

    // x += attn · Woᵀ
    // (rows [r0, n) from here on: xn_, gate_ and up_ start at row 0 = row r0.)
    float* xr = &x_[size_t{r0} * E];
    project({{L.wo, xn_.data()}}, &attn_[size_t{r0} * Q], nr, Q, pool);

    // x += (silu(xn · Wgateᵀ) * (xn · Wupᵀ)) · Wdownᵀ, xn = rmsnorm(x) * ffn_norm
    // (row t's attention output in xn_ is added to x before the norm overwrites it)
    by_rows(nr, [&](uint32_t t) {
      float* xt = xr + size_t{t} * E;
      kernels::add(xt, &xn_[size_t{t} * E], E, xt);
      kernels::rms_norm(xt, f32(L.ffn_norm), c.rms_eps, E, &xn_[size_t{t} * E]);
    });
    project({{L.w_gate, gate_.data()}, {L.w_up, up_.data()}}, xn_.data(), nr, E, pool);
    by_rows(nr, [&](uint32_t t) {
      kernels::swiglu(&gate_[size_t{t} * F], &up_[size_t{t} * F], F, &gate_[size_t{t} * F]);
    });
    project({{L.w_down, xn_.data()}}, gate_.data(), nr, F, pool);
    by_rows(nr, [&](uint32_t t) { kernels::add(xr + size_t{t} * E, &xn_[size_t{t} * E], E, xr + size_t{t} * E); });
  }

  // hidden = rmsnorm(x) * output_norm, for rows [out_first, n)
  for (uint32_t t = out_first; t < n; ++t) {
    kernels::rms_norm(&x_[size_t{t} * E], f32(w.output_norm), c.rms_eps, E, &hidden_[size_t{t - out_first} * E]);
  }
  history_.insert(history_.end(), ids, ids + n);
  keys_.insert(keys_.end(), keys, keys + n);
}

void Context::compute_logits(uint32_t n_rows, float* out) {
  project({{model_->weights().output, out}}, hidden_.data(), n_rows, model_->config().n_embd, *pool_);
}

}  // namespace omni::llm
