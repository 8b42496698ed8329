// Whisper decoder: token + positional embeddings, pre-LN blocks with causal self-attention (KV
// cache), cross-attention over the window's audio features (K/V computed once per window), MLP,
// final layer norm and logits against the token embedding.
#include <algorithm>
#include <cmath>
#include <string>

#include "asr/whisper_forward.h"
#include "asr/whisper_ops.h"
#include "core/error.h"
#include "core/quant.h"

namespace omni::asr {
namespace {

using detail::gelu;
using detail::layer_norm;
using detail::linear;

// For each of n queries (q [n][ns], scaled) and each head: softmax over keys [0, n_keys(i)) of
// k [.][ns] (scaled), weighted sum of v [.][ns] into out [n][ns].
template <class NKeys>
void attend(const float* q, const float* k, const float* v, int64_t n, int64_t ns, int64_t n_head,
            NKeys n_keys, float* out, ThreadPool& pool) {
  const int64_t dh = ns / n_head;
  // Small jobs (one token of a small model) run on the caller: waking workers costs more.
  const int64_t work = std::max<int64_t>(1, n_keys(n - 1) * dh);
  const int64_t grain = std::max<int64_t>(1, detail::kParallelMacs / work);
  pool.parallel_for(n * n_head, [&](int64_t b, int64_t e) {
    std::vector<float> s;
    for (int64_t job = b; job < e; ++job) {
      const int64_t i = job / n_head, h = job % n_head;
      const int64_t nk = n_keys(i);
      s.resize(static_cast<size_t>(nk));
      const float* qi = q + i * ns + h * dh;
      for (int64_t j = 0; j < nk; ++j) s[j] = kernels::dot_f32(qi, k + j * ns + h * dh, dh);
      kernels::softmax(s.data(), nk);
      float* o = out + i * ns + h * dh;
      std::fill(o, o + dh, 0.0f);
      for (int64_t j = 0; j < nk; ++j) {
        const float p = s[j];
        const float* vj = v + j * ns + h * dh;
        for (int64_t d = 0; d < dh; ++d) o[d] += p * vj[d];
      }
    }
  }, grain);
}

// Cross-attention of n queries over packed keys / values (see WhisperDecoder::CrossKv): per
// head, scores against 64 keys at a time and the value sum through the GEMM block, with no
// per-key horizontal sums.
void attend_packed(const kernels::KernelTable& kt, const float* q, const float* kp_all,
                   const float* vp_all, int64_t n, int64_t ns, int64_t n_head, int64_t na,
                   int64_t panels, float* out, ThreadPool& pool) {
  constexpr int64_t kNr = 64, kKc = 512;
  const int64_t dh = ns / n_head;
  const int64_t grain = std::max<int64_t>(1, detail::kParallelMacs / std::max<int64_t>(1, na * dh));
  pool.parallel_for(n * n_head, [&](int64_t b, int64_t e) {
    std::vector<float> s(static_cast<size_t>(panels * kNr));
    float c[kNr];
    for (int64_t job = b; job < e; ++job) {
      const int64_t i = job / n_head, h = job % n_head;
      const float* kp = kp_all + h * panels * kNr * dh;
      const float* vp = vp_all + h * na * kNr;
      for (int64_t p = 0; p < panels; ++p) {
        kt.gemm6x64_f32(kp + p * dh * kNr, dh, q + i * ns + h * dh, ns, 1, s.data() + p * kNr);
      }
      kt.softmax(s.data(), na, 1.0f, nullptr);
      float* o = out + i * ns + h * dh;
      for (int64_t k0 = 0; k0 < na; k0 += kKc) {
        kt.gemm6x64_f32(vp + k0 * kNr, std::min(kKc, na - k0), s.data() + k0, na, 1, c);
        for (int64_t d = 0; d < dh; ++d) o[d] = k0 == 0 ? c[d] : o[d] + c[d];
      }
    }
  }, grain);
}

}  // namespace

WhisperDecoder::WhisperDecoder(const WhisperModel& model, ThreadPool& pool)
    : m_(model), pool_(pool) {
  // The self-attention cache grows with the tokens decoded (see reserve_self), not to n_text_ctx
  // up front: beam search keeps 2 decoders per beam, and a window rarely fills the context.
  k_self_.resize(static_cast<size_t>(m_.hparams().n_text_layer));
  v_self_.resize(k_self_.size());
}

void WhisperDecoder::reserve_self(int n_pos) {
  const size_t need = static_cast<size_t>(n_pos) * static_cast<size_t>(m_.hparams().n_text_state);
  for (size_t l = 0; l < k_self_.size(); ++l) {
    if (k_self_[l].size() >= need) continue;
    // Geometric growth (at least 64 positions) keeps a token-by-token decode at O(n) copying.
    const size_t grow = std::max(need, std::max(2 * k_self_[l].size(),
                                                64 * static_cast<size_t>(m_.hparams().n_text_state)));
    const size_t cap = std::min(grow, static_cast<size_t>(m_.hparams().n_text_ctx) *
                                          static_cast<size_t>(m_.hparams().n_text_state));
    k_self_[l].resize(std::max(cap, need));
    v_self_[l].resize(std::max(cap, need));
  }
}

void WhisperDecoder::set_audio(const std::vector<float>& features, int n_ctx) {
  const auto& hp = m_.hparams();
  const int64_t ns = hp.n_text_state;
  if (n_ctx < 1 || n_ctx > hp.n_audio_ctx ||
      features.size() != static_cast<size_t>(n_ctx) * static_cast<size_t>(ns)) {
    throw Error("whisper decoder: audio features do not match n_ctx " + std::to_string(n_ctx));
  }
  const float scale = std::pow(static_cast<float>(ns / hp.n_text_head), -0.25f);
  const int64_t n_head = hp.n_text_head, dh = ns / n_head, na = n_ctx;
  constexpr int64_t kNr = 64;
  auto cross = std::make_shared<CrossKv>();
  cross->packed = kernels::active().gemm6x64_f32 != nullptr && dh <= kNr;
  cross->panels = (na + kNr - 1) / kNr;
  const int64_t panels = cross->panels;
  const int64_t kp_size = n_head * panels * kNr * dh, vp_size = n_head * na * kNr;
  const size_t n_layers = m_.dec_layers.size();
  cross->k.resize(n_layers);
  cross->v.resize(n_layers);
  if (cross->packed) {
    cross->buf.resize(n_layers * static_cast<size_t>(kp_size + vp_size) + 16);
    const auto base = reinterpret_cast<uintptr_t>(cross->buf.data());
    const size_t align = ((64 - base % 64) % 64) / sizeof(float);
    cross->kp_off.resize(n_layers);
    cross->vp_off.resize(n_layers);
    for (size_t l = 0; l < n_layers; ++l) {
      cross->kp_off[l] = align + l * static_cast<size_t>(kp_size + vp_size);
      cross->vp_off[l] = cross->kp_off[l] + static_cast<size_t>(kp_size);
    }
  }
  for (size_t l = 0; l < n_layers; ++l) {
    const auto& L = m_.dec_layers[l];
    auto& kl = cross->k[l];
    auto& vl = cross->v[l];
    kl.resize(features.size());
    vl.resize(features.size());
    linear(L.cross.k, features.data(), n_ctx, kl.data(), pool_);
    kernels::scale(kl.data(), scale, static_cast<int64_t>(features.size()), kl.data());
    linear(L.cross.v, features.data(), n_ctx, vl.data(), pool_);
    if (!cross->packed) continue;
    const float* k = kl.data();
    const float* v = vl.data();
    float* kp_all = cross->buf.data() + cross->kp_off[l];
    float* vp_all = cross->buf.data() + cross->vp_off[l];
    pool_.parallel_for(n_head, [&](int64_t hb, int64_t he) {
      for (int64_t h = hb; h < he; ++h) {
        float* kp = kp_all + h * panels * kNr * dh;
        float* vp = vp_all + h * na * kNr;
        for (int64_t j = 0; j < panels * kNr; ++j) {
          const int64_t p = j / kNr, r = j % kNr;
          for (int64_t d = 0; d < dh; ++d) {
            kp[(p * dh + d) * kNr + r] = j < na ? k[j * ns + h * dh + d] : 0.0f;
          }
        }
        for (int64_t j = 0; j < na; ++j) {
          std::copy_n(v + j * ns + h * dh, dh, vp + j * kNr);
          std::fill_n(vp + j * kNr + dh, kNr - dh, 0.0f);
        }
      }
    });
    // The packed copies are all the decoder reads.
    std::vector<float>().swap(kl);
    std::vector<float>().swap(vl);
  }
  cross_ = std::move(cross);
  n_audio_ = n_ctx;
  n_past_ = 0;
}

void WhisperDecoder::truncate(int n) {
  if (n < 0 || n > n_past_) throw Error("whisper decoder: bad truncate position");
  n_past_ = n;
}

void WhisperDecoder::copy_from(const WhisperDecoder& other) {
  if (&other == this) return;
  if (&other.m_ != &m_) throw Error("whisper decoder: copy_from a decoder of another model");
  cross_ = other.cross_;
  n_audio_ = other.n_audio_;
  n_past_ = other.n_past_;
  const size_t n = static_cast<size_t>(n_past_) * static_cast<size_t>(m_.hparams().n_text_state);
  reserve_self(n_past_);
  for (size_t l = 0; l < k_self_.size(); ++l) {
    std::copy_n(other.k_self_[l].begin(), n, k_self_[l].begin());
    std::copy_n(other.v_self_[l].begin(), n, v_self_[l].begin());
  }
}

void WhisperDecoder::decode(const int32_t* tokens, int n, std::vector<float>& logits) {
  const auto& hp = m_.hparams();
  if (n_audio_ == 0) throw Error("whisper decoder: no audio features set");
  if (n < 1 || n_past_ + n > hp.n_text_ctx) {
    throw Error("whisper decoder: " + std::to_string(n_past_ + n) +
                " tokens exceed the text context " + std::to_string(hp.n_text_ctx));
  }
  const int64_t ns = hp.n_text_state, n_head = hp.n_text_head;
  reserve_self(n_past_ + n);
  const size_t sz = static_cast<size_t>(n) * ns;
  std::vector<float> x(sz), h(sz), q(sz), a(sz), o(sz), mlp(sz * 4);
  const auto& emb = m_.token_embedding;
  const size_t row_bytes = *omni::row_bytes(emb.type, static_cast<uint64_t>(ns));
  for (int i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= hp.n_vocab) {
      throw Error("whisper decoder: token id " + std::to_string(tokens[i]) + " out of range");
    }
    dequantize_row(emb.type, static_cast<const uint8_t*>(emb.data) + row_bytes * tokens[i],
                   x.data() + i * ns, ns);
    kernels::add(x.data() + i * ns, m_.dec_pos.data() + (n_past_ + i) * ns, ns,
                 x.data() + i * ns);
  }
  const float scale = std::pow(static_cast<float>(ns / n_head), -0.25f);
  const int64_t past = n_past_;
  for (size_t l = 0; l < m_.dec_layers.size(); ++l) {
    const auto& L = m_.dec_layers[l];
    float* kc = k_self_[l].data();
    float* vc = v_self_[l].data();
    layer_norm(L.attn_ln, x.data(), n, ns, h.data(), pool_);
    linear(L.attn.q, h.data(), n, q.data(), pool_);
    linear(L.attn.k, h.data(), n, kc + past * ns, pool_);
    linear(L.attn.v, h.data(), n, vc + past * ns, pool_);
    kernels::scale(q.data(), scale, n * ns, q.data());
    kernels::scale(kc + past * ns, scale, n * ns, kc + past * ns);
    attend(q.data(), kc, vc, n, ns, n_head, [&](int64_t i) { return past + i + 1; }, a.data(),
           pool_);
    linear(L.attn.o, a.data(), n, o.data(), pool_);
    kernels::add(x.data(), o.data(), n * ns, x.data());

    layer_norm(L.cross_ln, x.data(), n, ns, h.data(), pool_);
    linear(L.cross.q, h.data(), n, q.data(), pool_);
    kernels::scale(q.data(), scale, n * ns, q.data());
    const int64_t na = n_audio_;
    if (cross_->packed) {
      attend_packed(kernels::active(), q.data(), cross_->buf.data() + cross_->kp_off[l],
                    cross_->buf.data() + cross_->vp_off[l], n, ns, n_head, na, cross_->panels,
                    a.data(), pool_);
    } else {
      attend(q.data(), cross_->k[l].data(), cross_->v[l].data(), n, ns, n_head,
             [&](int64_t) { return na; }, a.data(), pool_);
    }
    linear(L.cross.o, a.data(), n, o.data(), pool_);
    kernels::add(x.data(), o.data(), n * ns, x.data());

    layer_norm(L.mlp_ln, x.data(), n, ns, h.data(), pool_);
    linear(L.fc1, h.data(), n, mlp.data(), pool_);
    gelu(mlp.data(), n * ns * 4, pool_);
    linear(L.fc2, mlp.data(), n, o.data(), pool_);
    kernels::add(x.data(), o.data(), n * ns, x.data());
  }
  n_past_ += n;
  const float* last = x.data() + (n - 1) * ns;
  layer_norm(m_.dec_ln, last, 1, ns, h.data(), pool_);
  logits.resize(static_cast<size_t>(hp.n_vocab));
  kernels::matmul(emb.type, emb.data, emb.rows, emb.cols, h.data(), 1, logits.data(), &pool_);
}

}  // namespace omni::asr
