#include "tts/vits_ops.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/thread_pool.h"
#include "tts/conv_gemm.h"

namespace omni::tts {
namespace {

template <class Fn>
void for_channels(ThreadPool* pool, int n, int64_t work_per_channel, Fn&& fn) {
  // Small layers are not worth waking the workers for.
  if (pool && pool->size() > 1 && int64_t(n) * work_per_channel >= (1 << 20)) {
    pool->parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) fn(int(i));
    });
  } else {
    for (int i = 0; i < n; ++i) fn(i);
  }
}

void copy_act(const float* src, int n, float slope, float* dst) {
  act_copy(src, n, slope, dst);
}

}  // namespace

void Conv1d::prepare(bool fast, int max_tile) {
  if (groups != 1 || stride != 1) return;
  wino = WinogradConv{};
  packed = PackedWeights{};
  int m = WinogradConv::tile_for(k, dilation, cout);
  if (max_tile > 0) m = std::min(m, max_tile);
  if (fast && m > 0) {
    wino.prepare(w.data(), cout, cin, k, dilation, m);
  } else {
    packed.pack(w.data(), cout, cin * k, cin * k);
  }
}

int Conv1d::out_len(const Act& x) const {
  if (x.c != cin)
    throw Error("conv1d: input has " + std::to_string(x.c) + " channels, want " +
                std::to_string(cin));
  const int span = dilation * (k - 1) + 1;
  const int tout = (x.t + 2 * pad - span) / stride + 1;
  if (tout <= 0) throw Error("conv1d: input too short");
  return tout;
}

void Conv1d::gemm(const Act& x, float in_slope, float* y, bool add, ThreadPool* pool) const {
  const int tout = out_len(x);
  if (wino.ready()) {
    wino.run(x.d.data(), x.t, pad, in_slope, b.empty() ? nullptr : b.data(), y, tout,
             add ? y : nullptr, pool);
    return;
  }
  // Zero-padded copy so the inner loops have no bounds tests; the slack at the end lets the
  // GEMM tiles read whole 32-column blocks. (Also what makes writing into x itself safe.)
  const int tp = x.t + 2 * pad + 32;
  std::vector<float> xp(size_t(cin) * tp);
  for (int c = 0; c < cin; ++c) {
    float* r = xp.data() + size_t(c) * tp;
    std::fill(r, r + pad, 0.f);
    copy_act(x.row(c), x.t, in_slope, r + pad);
    std::fill(r + pad + x.t, r + tp, 0.f);
  }
  PackedWeights local;
  if (packed.data.empty()) local.pack(w.data(), cout, cin * k, cin * k);
  const PackedWeights& a = packed.data.empty() ? local : packed;
  std::vector<const float*> rows(size_t(cin) * k);
  for (int ci = 0; ci < cin; ++ci) {
    for (int kk = 0; kk < k; ++kk)
      rows[size_t(ci) * k + kk] = xp.data() + size_t(ci) * tp + kk * dilation;
  }
  gemm_rows(a, rows.data(), tout, b.empty() ? nullptr : b.data(), y, tout, pool, add);
}

void Conv1d::accumulate(const Act& x, Act& dst, ThreadPool* pool, float in_slope) const {
  const int tout = out_len(x);
  if (dst.c != cout || dst.t != tout) throw Error("conv1d: residual shape mismatch");
  if (groups == 1 && stride == 1) {
    gemm(x, in_slope, dst.d.data(), true, pool);
    return;
  }
  const Act y = (*this)(x, pool, in_slope);
  add_into(dst, y);
}

Act Conv1d::residual(const Act& x, ThreadPool* pool, float in_slope) const {
  const int tout = out_len(x);
  if (x.c != cout || x.t != tout) throw Error("conv1d: residual shape mismatch");
  if (wino.ready()) {
    Act y(cout, tout);
    wino.run(x.d.data(), x.t, pad, in_slope, b.empty() ? nullptr : b.data(), y.d.data(), tout,
             x.d.data(), pool);
    return y;
  }
  Act y = x;
  accumulate(x, y, pool, in_slope);
  return y;
}

Act Conv1d::operator()(const Act& x, ThreadPool* pool, float in_slope) const {
  const int tout = out_len(x);
  if (groups == 1 && stride == 1) {
    Act y(cout, tout);
    gemm(x, in_slope, y.d.data(), false, pool);
    return y;
  }
  const int tp = x.t + 2 * pad + 32;
  std::vector<float> xp(size_t(cin) * tp, 0.f);
  for (int c = 0; c < cin; ++c) copy_act(x.row(c), x.t, in_slope, xp.data() + size_t(c) * tp + pad);
  Act y(cout, tout);
  const int cin_g = cin / groups;
  const int cout_g = cout / groups;
  for_channels(pool, cout, int64_t(cin_g) * k * tout, [&](int co) {
    float* yr = y.row(co);
    const float bias = b.empty() ? 0.f : b[co];
    std::fill(yr, yr + tout, bias);
    const int g = co / cout_g;
    const float* wr = w.data() + size_t(co) * cin_g * k;
    for (int ci = 0; ci < cin_g; ++ci) {
      const float* xr = xp.data() + size_t(g * cin_g + ci) * tp;
      for (int kk = 0; kk < k; ++kk) {
        const float wv = wr[ci * k + kk];
        const float* xs = xr + kk * dilation;
        if (stride == 1) {
          for (int t = 0; t < tout; ++t) yr[t] += wv * xs[t];
        } else {
          for (int t = 0; t < tout; ++t) yr[t] += wv * xs[t * stride];
        }
      }
    }
  });
  return y;
}

void ChannelLayerNorm::operator()(Act& x) const {
  std::vector<float> mean(x.t, 0.f), var(x.t, 0.f);
  for (int c = 0; c < x.c; ++c) {
    const float* r = x.row(c);
    for (int t = 0; t < x.t; ++t) mean[t] += r[t];
  }
  for (int t = 0; t < x.t; ++t) mean[t] /= float(x.c);
  for (int c = 0; c < x.c; ++c) {
    const float* r = x.row(c);
    for (int t = 0; t < x.t; ++t) {
      const float d = r[t] - mean[t];
      var[t] += d * d;
    }
  }
  for (int t = 0; t < x.t; ++t) var[t] = 1.f / std::sqrt(var[t] / float(x.c) + eps);
  for (int c = 0; c < x.c; ++c) {
    float* r = x.row(c);
    const float g = gamma[c], bb = beta[c];
    for (int t = 0; t < x.t; ++t) r[t] = (r[t] - mean[t]) * var[t] * g + bb;
  }
}

void leaky_relu(Act& x, float slope) {
  for (float& v : x.d) v = v > 0.f ? v : v * slope;
}

void gelu_erf(Act& x) {
  for (float& v : x.d) v = 0.5f * v * (1.f + std::erf(v * 0.70710678118654752f));
}

void relu(Act& x) {
  for (float& v : x.d) v = std::max(v, 0.f);
}

void add_into(Act& dst, const Act& src) {
  for (size_t i = 0; i < dst.d.size(); ++i) dst.d[i] += src.d[i];
}

}  // namespace omni::tts
