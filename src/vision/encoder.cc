// The ViT forward pass and the projectors of ClipModel. Every projection is one kernels::matmul
// over all tokens of a tile (weights read once per tile); attention is two blocked GEMMs per head
// (vision/attention.h). Float32 throughout; GELU and quick-GELU go through
// llama.cpp's f16 tables (vision/gelu_table.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

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
// With `sums`, the Strassen sums of x (given) and/or of y (written) go to the packed product.
void apply(const Linear& l, const float* x, int64_t m, float* y, ThreadPool& pool,
           const StrassenConfig& cfg, bool accumulate = false,
           Activation act = Activation::kNone, const GemmSums& sums = {}) {
  const float* bias = l.bias.empty() ? nullptr : l.bias.data();
  if (!l.packed.empty()) {
    gemm(l.packed, x, m, bias, accumulate, y, cfg, pool, act, sums);  // activation fused
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

// A float buffer that only grows, 64-byte aligned.
class Buffer {
 public:
  float* get(int64_t n) {
    if (n > cap_) {
      p_.reset(static_cast<float*>(::operator new[](static_cast<size_t>(n) * sizeof(float),
                                                    std::align_val_t{64})));
      cap_ = n;
    }
    return p_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };
  std::unique_ptr<float[], Free> p_;
  int64_t cap_ = 0;
};

struct Scratch {
  Buffer patches, x, h, qkv, att, ff, mid;
  Buffer h_sums, ff_sums;  // Strassen sums of h and of ff / mid (StrassenSums)
};

// The Strassen sums layout of l's input (m rows) in buf, when l is a one-level packed product
// whose input's producer should write them; else nullptr (gemm() forms its own).
const StrassenSums* input_sums(const Linear& l, int64_t m, const StrassenConfig& cfg, Buffer& buf,
                               StrassenSums& s) {
  if (!cfg.producer_sums || l.packed.empty() || strassen_levels(l.packed, m, cfg) != 1) {
    return nullptr;
  }
  s = StrassenSums::layout(m, l.cols);
  s.data = buf.get(s.floats());
  return &s;
}

// y's Strassen sums as the packed product `from` writes them for `to` (GemmSums::y), when
// `from` is one-level too (its work items hold all four quadrants); y's other two quadrants
// are then skipped (only `to` reads y).
GemmSums output_sums(const Linear& from, const Linear& to, int64_t m, const StrassenConfig& cfg,
                     Buffer& buf, StrassenSums& s) {
  GemmSums g;
  if (from.packed.empty() || strassen_levels(from.packed, m, cfg) != 1) return g;
  g.y = input_sums(to, m, cfg, buf, s);
  g.y_diagonal_only = g.y != nullptr;
  return g;
}

// LayerNorm of m rows of d. With `sums` (the next product's), a few rows r of the top half and
// the same rows r + sums->rows of the bottom half are normalized, then their sums written while
// the rows are in cache (rows go in order within each half: pairing them one by one measured
// slower, the reads of x then start cold on every row).
void norm_rows(const Norm& n, float eps, const float* x, int64_t m, int64_t d, float* y,
               ThreadPool& pool, const StrassenSums* sums = nullptr) {
  if (sums) {
    constexpr int64_t kPairs = 8;
    const int64_t mb = sums->rows, kb = sums->cols;
    pool.parallel_for((mb + kPairs - 1) / kPairs, [&](int64_t b, int64_t e) {
      for (int64_t r0 = b * kPairs; r0 < std::min(mb, e * kPairs); r0 += kPairs) {
        const int64_t r1 = std::min(mb, r0 + kPairs);
        for (int64_t i = r0; i < r1; ++i) {
          kernels::layer_norm(x + i * d, n.w.data(), n.b.data(), eps, d, y + i * d);
        }
        for (int64_t i = r0 + mb; i < std::min(m, r1 + mb); ++i) {
          kernels::layer_norm(x + i * d, n.w.data(), n.b.data(), eps, d, y + i * d);
        }
        for (int64_t r = r0; r < r1; ++r) {
          const float* top = y + r * d;
          const float* bot = r + mb < m ? y + (r + mb) * d : nullptr;
          sums->put(r, 0, kb, top, top + kb, bot, bot ? bot + kb : nullptr);
        }
      }
    });
    return;
  }
  pool.parallel_for(m, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      kernels::layer_norm(x + i * d, n.w.data(), n.b.data(), eps, d, y + i * d);
    }
  }, 16);
}


}  // namespace

std::vector<float> ClipModel::encode_tile(const float* tile, ThreadPool* pool,
                                          EncodeTimings* timings) const {
  std::vector<float> out(static_cast<size_t>(hp_.tokens_per_tile()) *
                         static_cast<size_t>(hp_.n_embd_out));
  encode_tile_to(tile, out.data(), pool, timings);
  return out;
}

void ClipModel::encode_tile_to(const float* tile, float* out, ThreadPool* pool_arg,
                               EncodeTimings* timings) const {
  const auto t0 = std::chrono::steady_clock::now();
  ThreadPool& pool = pool_arg ? *pool_arg : ThreadPool::global();
  const ClipHparams& hp = hp_;
  const int S = hp.image_size, P = hp.patch_size, G = hp.n_patches_side();
  const int64_t D = hp.n_embd, np = hp.n_patches();
  const bool cls = hp.projector == ProjectorType::kMlp;
  const int64_t n = np + (cls ? 1 : 0);

  // Scratch kept across calls (per thread): a LLaVA tile needs ~40 MiB of activations, and
  // fresh pages would be faulted in and zeroed on every encode.
  static thread_local Scratch sc;
  const int64_t pp = 3LL * P * P;
  float* patches = sc.patches.get(np * pp);
  float* x = sc.x.get(n * D);
  float* h = sc.h.get(n * D);
  float* att = sc.att.get(n * D);
  float* ff = sc.ff.get(n * hp.n_ff);

  // Patches as rows of (channel, row, column) pixels: the convolution becomes one matmul, whose
  // output adds onto the position embeddings.
  pool.parallel_for(G, [&](int64_t gy0, int64_t gy1) {
    for (int64_t gy = gy0; gy < gy1; ++gy) {
      for (int gx = 0; gx < G; ++gx) {
        float* row = patches + (gy * G + gx) * pp;
        for (int c = 0; c < 3; ++c) {
          for (int ky = 0; ky < P; ++ky) {
            const float* src = tile + (static_cast<int64_t>(c) * S + gy * P + ky) * S + gx * P;
            std::memcpy(row + (static_cast<int64_t>(c) * P + ky) * P, src,
                        static_cast<size_t>(P) * sizeof(float));
          }
        }
      }
    }
  });
  pool.parallel_for(n, [&](int64_t b, int64_t e) {
    std::memcpy(x + b * D, w_.pos_embd.data() + b * D, static_cast<size_t>((e - b) * D) * sizeof(float));
  }, 64);
  if (cls) kernels::add(x, w_.class_embd.data(), D, x);
  apply(w_.patch, patches, np, x + (cls ? D : 0), pool, strassen_, true);
  if (!w_.pre_ln.w.empty()) norm_rows(w_.pre_ln, hp.eps, x, n, D, x, pool);

  const float scale = 1.0f / std::sqrt(static_cast<float>(D / hp.n_head));
  const StrassenConfig& cfg = strassen_;
  for (const ClipLayer& L : w_.layers) {
    StrassenSums hs, fs;
    const StrassenSums* qkv_sums = input_sums(L.qkv, n, cfg, sc.h_sums, hs);
    norm_rows(L.ln1, hp.eps, x, n, D, h, pool, qkv_sums);
    if (!L.qkv.packed.empty()) {
      float* qkv = sc.qkv.get(n * 3 * D);
      apply(L.qkv, h, n, qkv, pool, strassen_, false, Activation::kNone, {.x = qkv_sums});
      self_attention(qkv, qkv + D, qkv + 2 * D, 3 * D, n, hp.n_head, D, scale, att, pool);
    } else {
      float* q = sc.qkv.get(n * 3 * D);
      float *k = q + n * D, *v = k + n * D;
      apply(L.q, h, n, q, pool, strassen_);
      apply(L.k, h, n, k, pool, strassen_);
      apply(L.v, h, n, v, pool, strassen_);
      self_attention(q, k, v, n, hp.n_head, D, scale, att, pool);
    }
    apply(L.o, att, n, x, pool, strassen_, true);
    GemmSums fc1_sums = output_sums(L.fc1, L.fc2, n, cfg, sc.ff_sums, fs);
    fc1_sums.x = input_sums(L.fc1, n, cfg, sc.h_sums, hs);
    norm_rows(L.ln2, hp.eps, x, n, D, h, pool, fc1_sums.x);
    apply(L.fc1, h, n, ff, pool, strassen_, false,
          hp.use_gelu ? Activation::kGelu : Activation::kQuickGelu, fc1_sums);
    apply(L.fc2, ff, n, x, pool, strassen_, true, Activation::kNone, {.x = fc1_sums.y});
  }
  if (!w_.post_ln.w.empty()) norm_rows(w_.post_ln, hp.eps, x, n, D, x, pool);

  const auto t1 = std::chrono::steady_clock::now();
  switch (hp.projector) {
    case ProjectorType::kMlp: {
      const float* patches_out = x + D;  // the class token is not an image token
      float* mid = sc.mid.get(np * w_.mm0.rows);
      StrassenSums ms;
      const GemmSums mm0_sums = output_sums(w_.mm0, w_.mm2, np, cfg, sc.ff_sums, ms);
      apply(w_.mm0, patches_out, np, mid, pool, strassen_, false, Activation::kGelu, mm0_sums);
      apply(w_.mm2, mid, np, out, pool, strassen_, false, Activation::kNone, {.x = mm0_sums.y});
      break;
    }
    case ProjectorType::kIdefics3: {
      // Pixel shuffle: each s x s block of patches becomes one token of s*s*D features, the
      // block's patches in row-major order.
      const int s = hp.scale_factor, g = G / s;
      const int64_t nt = static_cast<int64_t>(g) * g;
      float* shuffled = sc.mid.get(nt * s * s * D);
      pool.parallel_for(g, [&](int64_t ty0, int64_t ty1) {
      for (int64_t ty = ty0; ty < ty1; ++ty) {
        for (int tx = 0; tx < g; ++tx) {
          float* dst = shuffled + (ty * g + tx) * s * s * D;
          for (int dy = 0; dy < s; ++dy) {
            for (int dx = 0; dx < s; ++dx) {
              const int64_t patch = (s * ty + dy) * G + (s * tx + dx);
              std::memcpy(dst + (static_cast<int64_t>(dy) * s + dx) * D, x + patch * D,
                          static_cast<size_t>(D) * sizeof(float));
            }
          }
        }
      }
      });
      apply(w_.mm_fc, shuffled, nt, out, pool, strassen_);
      break;
    }
  }
  if (timings) {
    const auto t2 = std::chrono::steady_clock::now();
    timings->vit_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    timings->project_ms += std::chrono::duration<double, std::milli>(t2 - t1).count();
  }
}

ImageEmbeddings ClipModel::encode(const VisionInput& in, ThreadPool* pool,
                                  EncodeTimings* timings) const {
  if (in.size != hp_.image_size) {
    throw Error("vision input tiles are " + std::to_string(in.size) + " px, the model takes " +
                std::to_string(hp_.image_size));
  }
  ImageEmbeddings e;
  e.n_embd = hp_.n_embd_out;
  const int nt = hp_.tokens_per_tile();
  const size_t per = static_cast<size_t>(nt) * static_cast<size_t>(e.n_embd);
  e.data.resize(per * in.tiles.size());
  const size_t tile_floats = 3 * static_cast<size_t>(in.size) * static_cast<size_t>(in.size);
  for (size_t i = 0; i < in.tiles.size(); ++i) {
    if (in.tiles[i].size() != tile_floats) {
      throw Error("vision input tile " + std::to_string(i) + " holds " +
                  std::to_string(in.tiles[i].size()) + " floats, expected 3 x " +
                  std::to_string(in.size) + " x " + std::to_string(in.size));
    }
    e.tokens_per_tile.push_back(nt);
    e.n_tokens += nt;
  }
  // Whole groups of T tiles (T = the pool's threads) run one tile per thread, each tile's loops
  // serially on its thread: no barriers, no split work, nothing to balance (at 2 threads the
  // split layers lost ~3 % to them). The remaining tiles use every thread. Each tile's result
  // does not depend on where it runs, so neither does the output.
  ThreadPool& p = pool ? *pool : ThreadPool::global();
  const size_t T = static_cast<size_t>(p.size());
  size_t i = 0;
  if (T > 1) {
    std::vector<EncodeTimings> part(T);
    for (; i + T <= in.tiles.size(); i += T) {
      const auto t0 = std::chrono::steady_clock::now();
      p.parallel_for(static_cast<int64_t>(T), [&](int64_t b, int64_t end) {
        for (int64_t k = b; k < end; ++k) {
          const size_t tile = i + static_cast<size_t>(k);
          part[static_cast<size_t>(k)] = {};
          encode_tile_to(in.tiles[tile].data(), e.data.data() + tile * per, &p,
                         &part[static_cast<size_t>(k)]);
        }
      });
      if (timings) {  // the group's wall time, split as its tiles' own times are
        const double wall =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        double vit = 0, proj = 0;
        for (const EncodeTimings& t : part) {
          vit += t.vit_ms;
          proj += t.project_ms;
        }
        const double f = vit + proj > 0 ? vit / (vit + proj) : 1.0;
        timings->vit_ms += wall * f;
        timings->project_ms += wall * (1.0 - f);
      }
    }
  }
  for (; i < in.tiles.size(); ++i) {
    encode_tile_to(in.tiles[i].data(), e.data.data() + i * per, &p, timings);
  }
  return e;
}

ImageEmbeddings ClipModel::encode(const Image& img, ThreadPool* pool) const {
  return encode(preprocess(img, preprocess_config()), pool);
}

}  // namespace omni::vision
