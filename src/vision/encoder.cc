// The ViT forward pass and the projectors of ClipModel. Every projection is one kernels::matmul
// over all tokens of a tile (weights read once per tile); attention is two blocked GEMMs per head
// (vision/attention.h). Float32 throughout; GELU and quick-GELU go through
// llama.cpp's f16 tables (vision/gelu_table.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/kernels.h"
#include "core/thread_pool.h"
#include "vision/attention.h"
#include "vision/clip_model.h"
#include "vision/gelu_table.h"

namespace omni::vision {
namespace {

void activation(bool gelu, float* x, int64_t n, ThreadPool& pool);

// y (m x l.rows) = act(x (m x l.cols) W^T + bias), added to y when `accumulate` (the residual).
void apply(const Linear& l, const float* x, int64_t m, float* y, ThreadPool& pool,
           const StrassenConfig& cfg, bool accumulate = false,
           Activation act = Activation::kNone) {
  const float* bias = l.bias.empty() ? nullptr : l.bias.data();
  if (!l.packed.empty()) {
    gemm(l.packed, x, m, bias, accumulate, y, cfg, pool, act);  // activation fused
    return;
  }
  if (act != Activation::kNone) {
    apply(l, x, m, y, pool, cfg, accumulate);
    activation(act == Activation::kGelu, y, m * l.rows, pool);
    return;
  }
  if (accumulate) {
    std::vector<float> t(static_cast<size_t>(m * l.rows));
    kernels::matmul(l.type, l.w, l.rows, l.cols, x, m, t.data(), &pool);
    if (bias) kernels::add_rows(t.data(), bias, m, l.rows, t.data());
    kernels::add(y, t.data(), m * l.rows, y);
    return;
  }
  kernels::matmul(l.type, l.w, l.rows, l.cols, x, m, y, &pool);
  if (bias) kernels::add_rows(y, bias, m, l.rows, y);
}

// GELU (quick-GELU when !gelu) in place, in chunks over the pool (table lookups are scalar).
void activation(bool gelu, float* x, int64_t n, ThreadPool& pool) {
  constexpr int64_t kChunk = 16384;
  pool.parallel_for((n + kChunk - 1) / kChunk, [&](int64_t b, int64_t e) {
    const int64_t lo = b * kChunk, hi = std::min(n, e * kChunk);
    if (gelu) {
      gelu_tanh_f16_table(x + lo, hi - lo);
    } else {
      quick_gelu_f16_table(x + lo, hi - lo);
    }
  });
}

void norm_rows(const Norm& n, float eps, const float* x, int64_t m, int64_t d, float* y,
               ThreadPool& pool) {
  pool.parallel_for(m, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      kernels::layer_norm(x + i * d, n.w.data(), n.b.data(), eps, d, y + i * d);
    }
  }, 16);
}


}  // namespace

std::vector<float> ClipModel::encode_tile(const float* tile, ThreadPool* pool_arg,
                                          EncodeTimings* timings) const {
  const auto t0 = std::chrono::steady_clock::now();
  ThreadPool& pool = pool_arg ? *pool_arg : ThreadPool::global();
  const ClipHparams& hp = hp_;
  const int S = hp.image_size, P = hp.patch_size, G = hp.n_patches_side();
  const int64_t D = hp.n_embd, np = hp.n_patches();
  const bool cls = hp.projector == ProjectorType::kMlp;
  const int64_t n = np + (cls ? 1 : 0);

  // Patches as rows of (channel, row, column) pixels: the convolution becomes one matmul.
  const int64_t pp = 3LL * P * P;
  std::vector<float> patches(static_cast<size_t>(np * pp));
  for (int gy = 0; gy < G; ++gy) {
    for (int gx = 0; gx < G; ++gx) {
      float* row = patches.data() + (static_cast<int64_t>(gy) * G + gx) * pp;
      for (int c = 0; c < 3; ++c) {
        for (int ky = 0; ky < P; ++ky) {
          const float* src = tile + (static_cast<int64_t>(c) * S + gy * P + ky) * S + gx * P;
          std::memcpy(row + (static_cast<int64_t>(c) * P + ky) * P, src, static_cast<size_t>(P) * sizeof(float));
        }
      }
    }
  }
  std::vector<float> x(static_cast<size_t>(n * D));
  apply(w_.patch, patches.data(), np, x.data() + (cls ? D : 0), pool, strassen_);
  if (cls) std::memcpy(x.data(), w_.class_embd.data(), static_cast<size_t>(D) * sizeof(float));
  kernels::add(x.data(), w_.pos_embd.data(), n * D, x.data());
  if (!w_.pre_ln.w.empty()) norm_rows(w_.pre_ln, hp.eps, x.data(), n, D, x.data(), pool);

  std::vector<float> h(x.size()), q(x.size()), k(x.size()), v(x.size()), att(x.size());
  std::vector<float> ff(static_cast<size_t>(n * hp.n_ff));
  for (const ClipLayer& L : w_.layers) {
    norm_rows(L.ln1, hp.eps, x.data(), n, D, h.data(), pool);
    apply(L.q, h.data(), n, q.data(), pool, strassen_);
    apply(L.k, h.data(), n, k.data(), pool, strassen_);
    apply(L.v, h.data(), n, v.data(), pool, strassen_);
    self_attention(q.data(), k.data(), v.data(), n, hp.n_head, D,
                   1.0f / std::sqrt(static_cast<float>(D / hp.n_head)), att.data(), pool);
    apply(L.o, att.data(), n, x.data(), pool, strassen_, true);
    norm_rows(L.ln2, hp.eps, x.data(), n, D, h.data(), pool);
    apply(L.fc1, h.data(), n, ff.data(), pool, strassen_, false,
          hp.use_gelu ? Activation::kGelu : Activation::kQuickGelu);
    apply(L.fc2, ff.data(), n, x.data(), pool, strassen_, true);
  }
  if (!w_.post_ln.w.empty()) norm_rows(w_.post_ln, hp.eps, x.data(), n, D, x.data(), pool);

  const auto t1 = std::chrono::steady_clock::now();
  std::vector<float> out;
  switch (hp.projector) {
    case ProjectorType::kMlp: {
      const float* patches_out = x.data() + D;  // the class token is not an image token
      std::vector<float> mid(static_cast<size_t>(np * w_.mm0.rows));
      apply(w_.mm0, patches_out, np, mid.data(), pool, strassen_, false, Activation::kGelu);
      out.resize(static_cast<size_t>(np * w_.mm2.rows));
      apply(w_.mm2, mid.data(), np, out.data(), pool, strassen_);
      break;
    }
    case ProjectorType::kIdefics3: {
      // Pixel shuffle: each s x s block of patches becomes one token of s*s*D features, the
      // block's patches in row-major order.
      const int s = hp.scale_factor, g = G / s;
      const int64_t nt = static_cast<int64_t>(g) * g;
      std::vector<float> shuffled(static_cast<size_t>(nt * s * s * D));
      for (int ty = 0; ty < g; ++ty) {
        for (int tx = 0; tx < g; ++tx) {
          float* dst = shuffled.data() + (static_cast<int64_t>(ty) * g + tx) * s * s * D;
          for (int dy = 0; dy < s; ++dy) {
            for (int dx = 0; dx < s; ++dx) {
              const int64_t patch = static_cast<int64_t>(s * ty + dy) * G + (s * tx + dx);
              std::memcpy(dst + (static_cast<int64_t>(dy) * s + dx) * D, x.data() + patch * D,
                          static_cast<size_t>(D) * sizeof(float));
            }
          }
        }
      }
      out.resize(static_cast<size_t>(nt * w_.mm_fc.rows));
      apply(w_.mm_fc, shuffled.data(), nt, out.data(), pool, strassen_);
      break;
    }
  }
  if (timings) {
    const auto t2 = std::chrono::steady_clock::now();
    timings->vit_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    timings->project_ms += std::chrono::duration<double, std::milli>(t2 - t1).count();
  }
  return out;
}

ImageEmbeddings ClipModel::encode(const VisionInput& in, ThreadPool* pool,
                                  EncodeTimings* timings) const {
  if (in.size != hp_.image_size) {
    throw Error("vision input tiles are " + std::to_string(in.size) + " px, the model takes " +
                std::to_string(hp_.image_size));
  }
  ImageEmbeddings e;
  e.n_embd = hp_.n_embd_out;
  for (const auto& tile : in.tiles) {
    const auto t = encode_tile(tile.data(), pool, timings);
    const int nt = static_cast<int>(t.size() / static_cast<size_t>(e.n_embd));
    e.tokens_per_tile.push_back(nt);
    e.n_tokens += nt;
    e.data.insert(e.data.end(), t.begin(), t.end());
  }
  return e;
}

ImageEmbeddings ClipModel::encode(const Image& img, ThreadPool* pool) const {
  return encode(preprocess(img, preprocess_config()), pool);
}

}  // namespace omni::vision
