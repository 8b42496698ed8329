#include "tts/vits.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <numeric>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/error.h"
#include "core/thread_pool.h"
#include "tts/rel_attention.h"
#include "tts/vits_math.h"

namespace omni::tts {
namespace {

// Runs fn(t0, t1) over blocks of at most kColumnBlock time columns of x, on the pool when x is
// big enough. For per-column work (LayerNorm over channels, elementwise ops), so results do not
// depend on the split.
constexpr int kColumnBlock = 16;
template <class Fn>
void for_columns(ThreadPool* pool, const Act& x, Fn&& fn) {
  const int64_t n = (x.t + kColumnBlock - 1) / kColumnBlock;
  auto run = [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      fn(int(blk) * kColumnBlock, int(std::min<int64_t>(x.t, (blk + 1) * kColumnBlock)));
    }
  };
  if (pool && pool->size() > 1 && int64_t(x.c) * x.t >= 8192) {
    pool->parallel_for(n, run);
  } else {
    run(0, n);
  }
}

// Columns [t0, t1) (at most kColumnBlock) of ChannelLayerNorm, the same arithmetic in the same
// order.
void layer_norm_columns(const ChannelLayerNorm& ln, Act& x, int t0, int t1) {
  const int w = t1 - t0;
  float mean[kColumnBlock] = {}, var[kColumnBlock] = {};
  for (int c = 0; c < x.c; ++c) {
    const float* r = x.row(c) + t0;
    for (int t = 0; t < w; ++t) mean[t] += r[t];
  }
  for (int t = 0; t < w; ++t) mean[t] /= float(x.c);
  for (int c = 0; c < x.c; ++c) {
    const float* r = x.row(c) + t0;
    for (int t = 0; t < w; ++t) {
      const float d = r[t] - mean[t];
      var[t] += d * d;
    }
  }
  for (int t = 0; t < w; ++t) var[t] = 1.f / std::sqrt(var[t] / float(x.c) + ln.eps);
  for (int c = 0; c < x.c; ++c) {
    float* r = x.row(c) + t0;
    const float g = ln.gamma[c], bb = ln.beta[c];
    for (int t = 0; t < w; ++t) r[t] = (r[t] - mean[t]) * var[t] * g + bb;
  }
}

// y = gelu(LayerNorm(y)), then res += y if res is given, split over time columns.
void norm_gelu(const ChannelLayerNorm& ln, Act& y, Act* res, ThreadPool* pool) {
  for_columns(pool, y, [&](int t0, int t1) {
    layer_norm_columns(ln, y, t0, t1);
    for (int c = 0; c < y.c; ++c) {
      float* r = y.row(c);
      gelu_array(r + t0, t1 - t0, r + t0);
      if (res) {
        float* o = res->row(c);
        for (int t = t0; t < t1; ++t) o[t] += r[t];
      }
    }
  });
}

double softplus(double v) { return std::log1p(std::exp(-std::fabs(v))) + std::max(v, 0.0); }

// Inverse rational-quadratic spline with linear tails (VITS transforms.py), one element.
// params: widths[bins], heights[bins], derivatives[bins-1] (unnormalised).
float rq_spline_inverse(float input, const float* params, int bins, float tail_bound,
                        float param_scale) {
  if (input < -tail_bound || input > tail_bound) return input;  // identity tails
  constexpr double kMinW = 1e-3, kMinH = 1e-3, kMinD = 1e-3;
  const double left = -tail_bound, right = tail_bound, bottom = -tail_bound, top = tail_bound;
  constexpr int kMaxBins = 64;  // Piper uses 10; the loader rejects more
  std::array<double, kMaxBins + 1> w{}, hgt{}, deriv{}, cumw{}, cumh{};
  auto softmax = [bins](const float* u, double s, std::array<double, kMaxBins + 1>& out) {
    double mx = -INFINITY;
    for (int i = 0; i < bins; ++i) mx = std::max(mx, double(u[i]) * s);
    double sum = 0;
    for (int i = 0; i < bins; ++i) sum += (out[i] = std::exp(double(u[i]) * s - mx));
    for (int i = 0; i < bins; ++i) out[i] /= sum;
  };
  softmax(params, param_scale, w);
  softmax(params + bins, param_scale, hgt);
  const double constant = std::log(std::exp(1 - kMinD) - 1);
  deriv[0] = kMinD + softplus(constant);
  deriv[bins] = kMinD + softplus(constant);
  for (int i = 1; i < bins; ++i) deriv[i] = kMinD + softplus(params[2 * bins + i - 1]);
  auto cumulate = [bins](std::array<double, kMaxBins + 1>& v, double minv, double lo,
                         double hi, std::array<double, kMaxBins + 1>& cum) {
    double acc = 0;
    for (int i = 0; i < bins; ++i) {
      acc += minv + (1 - minv * bins) * v[i];
      cum[i + 1] = (hi - lo) * acc + lo;
    }
    cum[0] = lo;
    cum[bins] = hi;
    for (int i = 0; i < bins; ++i) v[i] = cum[i + 1] - cum[i];
  };
  cumulate(w, kMinW, left, right, cumw);
  cumulate(hgt, kMinH, bottom, top, cumh);
  // searchsorted on cumheights with the last edge nudged by 1e-6.
  int bin = -1;
  for (int i = 0; i <= bins; ++i) {
    const double edge = i == bins ? cumh[i] + 1e-6 : cumh[i];
    if (double(input) >= edge) ++bin;
  }
  bin = std::clamp(bin, 0, bins - 1);
  const double in_cw = cumw[bin], in_w = w[bin], in_ch = cumh[bin], in_h = hgt[bin];
  const double delta = in_h / in_w;
  const double d0 = deriv[bin], d1 = deriv[bin + 1];
  const double y = double(input) - in_ch;
  const double a = y * (d0 + d1 - 2 * delta) + in_h * (delta - d0);
  const double b = in_h * d0 - y * (d0 + d1 - 2 * delta);
  const double c = -delta * y;
  const double disc = std::max(b * b - 4 * a * c, 0.0);
  const double root = (2 * c) / (-b - std::sqrt(disc));
  return float(root * in_w + in_cw);
}

// Broadcasts a [c, 1] conditioning vector over time.
void add_bias_rows(Act& x, const Act& g) {
  for (int c = 0; c < x.c; ++c) {
    const float v = g.d[size_t(c)];
    float* r = x.row(c);
    for (int t = 0; t < x.t; ++t) r[t] += v;
  }
}

void flip_channels(Act& x) {
  for (int c = 0; c < x.c / 2; ++c) {
    std::swap_ranges(x.row(c), x.row(c) + x.t, x.row(x.c - 1 - c));
  }
}

// x + one residual block (type 2: convs; type 1: dilated convs then convs2 pairwise).
Act resblock_forward(const ResBlock& rb, const Act& x, ThreadPool* pool, float slope) {
  // Type 2's first residual step reads x and writes a new activation (no copy of x).
  const bool first_fused = rb.convs2.empty() && !rb.convs.empty();
  Act xr = first_fused ? rb.convs[0].residual(x, pool, slope) : x;
  for (size_t k = first_fused ? 1 : 0; k < rb.convs.size(); ++k) {
    // xr += conv(lrelu(xr)), the residual add fused into the GEMM's output pass.
    if (rb.convs2.empty()) {
      rb.convs[k].accumulate(xr, xr, pool, slope);
    } else {
      const Act xt = rb.convs[k](xr, pool, slope);
      rb.convs2[k].accumulate(xt, xr, pool, slope);
    }
  }
  return xr;
}

double reach(const Conv1d& c);

// Decoder stages shorter than this run each residual block whole on one thread.
constexpr int kMinSplitSamples = 4096;

// Samples [lo, hi) of resblock_forward(rb, x) into the same samples of out, computed on a slice
// of x with the block's receptive field as context and starting on every convolution's tile
// grid, so the values equal the whole block's bit for bit (as for decoder chunks).
void resblock_range(const ResBlock& rb, const Act& x, int lo, int hi, float slope, Act& out) {
  double halo = 0;
  int align = 1;
  for (const auto* convs : {&rb.convs, &rb.convs2}) {
    for (const Conv1d& c : *convs) {
      halo += reach(c);
      if (c.wino.ready()) align = std::lcm(align, c.wino.m() * c.dilation);
    }
  }
  const int h = int(std::ceil(halo)) + 2;
  const int a = std::max(0, lo - h) / align * align, b = std::min(x.t, hi + h);
  Act xs(x.c, b - a);
  for (int c = 0; c < x.c; ++c) std::copy(x.row(c) + a, x.row(c) + b, xs.row(c));
  const Act ys = resblock_forward(rb, xs, nullptr, slope);
  for (int c = 0; c < x.c; ++c) {
    std::copy(ys.row(c) + (lo - a), ys.row(c) + (hi - a), out.row(c) + lo);
  }
}

// Rows [r0, r0 + n) and columns [lo, hi) of x as a new activation.
Act columns(const Act& x, int r0, int n, int lo, int hi) {
  Act out(n, hi - lo);
  for (int c = 0; c < n; ++c) std::copy(x.row(r0 + c) + lo, x.row(r0 + c) + hi, out.row(c));
  return out;
}

// dst[:, lo + i] = src[:, i] for every column i of src (src moved in whole when it covers dst
// or dst is empty: single-range callers leave it unallocated).
void put_columns(Act&& src, Act& dst, int lo) {
  if (lo == 0 && (dst.d.empty() || (src.t == dst.t && src.c == dst.c))) {
    dst = std::move(src);
    return;
  }
  for (int c = 0; c < src.c; ++c) std::copy(src.row(c), src.row(c) + src.t, dst.row(c) + lo);
}

// dst[:, lo + i] += src[:, i] (dst + src, the order of the residual adds it replaces).
void add_columns(const Act& src, Act& dst, int lo) {
  for (int c = 0; c < src.c; ++c) {
    float* r = dst.row(c) + lo;
    const float* a = src.row(c);
    for (int i = 0; i < src.t; ++i) r[i] += a[i];
  }
}

// Columns [lo, hi) of x: x itself for all of them, else a copy in tmp.
const Act& columns_of(const Act& x, int lo, int hi, Act& tmp) {
  if (lo == 0 && hi == x.t) return x;
  tmp = columns(x, 0, x.c, lo, hi);
  return tmp;
}

// ChannelLayerNorm of columns [lo, hi) of x.
void norm_columns(const ChannelLayerNorm& ln, Act& x, int lo, int hi) {
  for (int t0 = lo; t0 < hi; t0 += kColumnBlock) {
    layer_norm_columns(ln, x, t0, std::min(hi, t0 + kColumnBlock));
  }
}

// Before the decoder, activations are short (one column per phoneme or frame) and each layer
// is a few hundred microseconds: handing every matrix product to the pool separately spends
// much of that in hand-offs and leaves the Winograd transforms serial. Instead each thread runs
// a whole layer (or a stack of per-column ops) over one time range, from the whole input of
// the layer (conv_columns()), so the values do not depend on the cut. Ranges start on a
// multiple of kPartAlign, where the Winograd layers before the decoder (m * dilation = 4) can
// start without recomputing any context.
constexpr int kPartAlign = 8;
// Winograd layers (m * dilation = 4) run their GEMMs on 32-column kernel tiles of tile groups:
// ranges of a multiple of 4 * 32 columns keep the ranges from adding partial kernel tiles.
// Shorter activations run such a layer whole, its GEMMs split over the pool.
constexpr int kWinogradPartAlign = 128;

// How many ranges of `align` columns (at least) to cut t columns into: one per thread.
int parts_for(ThreadPool* pool, int t, int align = kPartAlign) {
  if (!pool || pool->size() < 2) return 1;
  return std::max(1, std::min(pool->size(), t / std::max(align, 16)));
}

// Runs fn(lo, hi) for `parts` ranges covering [0, t), starting on multiples of `align`, on
// the pool when parts > 1.
template <class Fn>
void for_parts(ThreadPool* pool, int t, int parts, Fn&& fn, int align = kPartAlign) {
  if (parts <= 1) {
    fn(0, t);
    return;
  }
  auto edge = [&](int64_t p) {
    return p == parts ? t : int(int64_t(t) * p / parts / align * align);
  };
  pool->parallel_for(parts, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int lo = edge(p), hi = edge(p + 1);
      if (lo < hi) fn(lo, hi);
    }
  });
}

// Columns [lo, hi) of c(x) (stride 1, output as long as the input), on the calling thread
// (all columns: on whole_pool),
// equal bit for bit to those of the whole convolution. A 1x1 convolution takes just those
// columns. A Winograd layer whose tile grid the range starts (and ends) on runs over exactly
// those outputs from the input they read (every tile sees the same inputs as in the whole
// layer). Otherwise the layer runs over a slice with its receptive field as context, starting
// on its tile grid, and the extra outputs are dropped (as for decoder chunks).
Act conv_columns(const Conv1d& c, const Act& x, int lo, int hi, ThreadPool* whole_pool) {
  const int total = x.t;
  if (lo == 0 && hi == total) return c(x, whole_pool);
  if (c.k == 1 && c.pad == 0 && c.stride == 1) {
    Act tmp;
    return c(columns_of(x, lo, hi, tmp), nullptr);
  }
  if (c.wino.ready()) {
    const int grid = c.wino.m() * c.dilation;
    if (lo % grid == 0 && (hi % grid == 0 || hi == total)) {
      // Output t reads input t + k * dilation - pad, k < c.k.
      const int first = lo - c.pad, end = std::min(total, hi + c.dilation * (c.k - 1) - c.pad);
      const Act xs = columns(x, 0, x.c, std::max(0, first), end);
      Act y(c.cout, hi - lo);
      c.wino.run(xs.d.data(), xs.t, std::max(0, -first), 1.f, c.b.empty() ? nullptr : c.b.data(),
                 y.d.data(), y.t, nullptr, nullptr);
      return y;
    }
  }
  const double r = reach(c);
  const int h = int(std::ceil(r)) + 2;
  const int align = c.wino.ready() ? c.wino.m() * c.dilation : 1;
  const int a = std::max(0, lo - h) / align * align, b = std::min(total, hi + h);
  const Act ys = c(columns(x, 0, x.c, a, b), nullptr);
  if (ys.t != b - a) throw Error("vits: convolution changes the length");
  return columns(ys, 0, ys.c, lo - a, hi - a);
}


// dst[:, lo:hi) += columns [lo, hi) of c(x); for all columns, added in the convolution's
// output pass (the same bits: (conv + bias) + dst).
void add_conv_columns(const Conv1d& c, const Act& x, int lo, int hi, Act& dst,
                      ThreadPool* whole_pool) {
  if (lo == 0 && hi == x.t && dst.t == x.t) {
    c.accumulate(x, dst, whole_pool);
    return;
  }
  add_columns(conv_columns(c, x, lo, hi, nullptr), dst, lo);
}

// c(x) with one time range per thread (conv_columns()) where the output is as long as the
// input: the whole convolution on each thread instead of a hand-off per GEMM, same bits.
Act conv_parts(const Conv1d& c, const Act& x, ThreadPool* pool) {
  const int parts = parts_for(pool, x.t, kWinogradPartAlign);
  if (parts <= 1 || c.stride != 1 || 2 * c.pad != c.dilation * (c.k - 1)) return c(x, pool);
  Act y(c.cout, x.t);
  for_parts(
      pool, x.t, parts,
      [&](int lo, int hi) { put_columns(conv_columns(c, x, lo, hi, nullptr), y, lo); },
      kWinogradPartAlign);
  return y;
}

// Runs fn(e0, e1) over blocks of kElementBlock elements of [0, n), on the pool when n is big.
// For elementwise work (results do not depend on the split).
constexpr size_t kElementBlock = 8192;
template <class Fn>
void for_blocks(ThreadPool* pool, size_t n, Fn&& fn) {
  const int64_t blocks = int64_t((n + kElementBlock - 1) / kElementBlock);
  auto run = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      fn(size_t(i) * kElementBlock, std::min(n, size_t(i + 1) * kElementBlock));
    }
  };
  if (pool && pool->size() > 1 && blocks >= 8) {
    pool->parallel_for(blocks, run, 2);
  } else {
    run(0, blocks);
  }
}

}  // namespace

Act VitsModel::encode(std::span<const int64_t> ids, Act* hidden, ThreadPool* pool) const {
  const TextEncoder& e = enc_;
  const int t = int(ids.size());
  Act x(e.hidden, t);
  const float s = std::sqrt(float(e.hidden));
  for (int i = 0; i < t; ++i) {
    if (ids[i] < 0 || ids[i] >= e.n_vocab) {
      throw Error("phoneme id " + std::to_string(ids[i]) + " outside the voice's " +
                  std::to_string(e.n_vocab) + " symbols");
    }
    const float* row = e.emb.data() + size_t(ids[i]) * e.hidden;
    for (int c = 0; c < e.hidden; ++c) x.row(c)[i] = row[c] * s;
  }
  // Per layer: q, k, v (per column) | heads (one per thread) | o, add, norm (per column) |
  // conv1, relu | conv2, add, norm and the next layer's q, k, v (or the projection).
  const int ch = e.hidden, layers = int(e.attn.size());
  const int parts = parts_for(pool, t);
  ThreadPool* inner = parts > 1 ? nullptr : pool;  // for a single range: inside its layers
  // Written whole by a single range (moved in): allocated only for several.
  auto buffer = [&](int c, int parts_) { return parts_ > 1 ? Act(c, t) : Act(); };
  Act q = buffer(ch, parts), k = buffer(ch, parts), v = buffer(ch, parts);
  Act stats = buffer(e.proj.cout, parts), att(ch, t);
  Act f = buffer(layers ? e.ffn[0].conv1.cout : 0, parts_for(pool, t, kWinogradPartAlign));
  auto project = [&](int l, int lo, int hi) {
    if (l == layers) return put_columns(conv_columns(e.proj, x, lo, hi, inner), stats, lo);
    const MultiHeadAttention& a = e.attn[size_t(l)];
    put_columns(conv_columns(a.q, x, lo, hi, inner), q, lo);
    put_columns(conv_columns(a.k, x, lo, hi, inner), k, lo);
    put_columns(conv_columns(a.v, x, lo, hi, inner), v, lo);
  };
  for_parts(pool, t, parts, [&](int lo, int hi) { project(0, lo, hi); });
  for (int l = 0; l < layers; ++l) {
    const MultiHeadAttention& a = e.attn[size_t(l)];
    const int heads = a.n_heads, hd = ch / heads;
    const float scale = 1.f / std::sqrt(float(hd));
    auto head = [&](int64_t h0, int64_t h1) {
      for (int64_t hh = h0; hh < h1; ++hh) {
        const int r0 = int(hh) * hd;
        rel_attention_head(q.row(r0), k.row(r0), v.row(r0), t, hd, scale, a.emb_rel_k.data(),
                           a.emb_rel_v.data(), a.window, att.row(r0));
      }
    };
    if (parts > 1) {
      pool->parallel_for(heads, head);
    } else {
      head(0, heads);
    }
    for_parts(pool, t, parts, [&](int lo, int hi) {
      add_conv_columns(a.o, att, lo, hi, x, inner);
      norm_columns(e.norm1[size_t(l)], x, lo, hi);
    });
    const Ffn& ffn = e.ffn[size_t(l)];
    // The FFN's convolutions are Winograd layers: in ranges only on long inputs (see
    // kWinogradPartAlign), else whole with their GEMMs on the pool.
    const int ffn_parts = parts_for(pool, t, kWinogradPartAlign);
    ThreadPool* ffn_inner = ffn_parts > 1 ? nullptr : pool;
    for_parts(
        pool, t, ffn_parts,
        [&](int lo, int hi) {
          Act y = conv_columns(ffn.conv1, x, lo, hi, ffn_inner);
          relu(y);
          put_columns(std::move(y), f, lo);
        },
        kWinogradPartAlign);
    // x's columns are only read by their own range here (conv2 reads f): updated in place.
    for_parts(
        pool, t, ffn_parts,
        [&](int lo, int hi) { add_conv_columns(ffn.conv2, f, lo, hi, x, ffn_inner); },
        kWinogradPartAlign);
    for_parts(pool, t, parts, [&](int lo, int hi) {
      norm_columns(e.norm2[size_t(l)], x, lo, hi);
      project(l + 1, lo, hi);
    });
  }
  if (layers == 0) for_parts(pool, t, parts, [&](int lo, int hi) { project(0, lo, hi); });
  *hidden = std::move(x);
  return stats;
}

std::vector<float> VitsModel::predict_logw(const Act& hidden, const Act* g, float noise_w,
                                           std::mt19937_64& rng, ThreadPool* pool) const {
  const DurationPredictor& dp = dp_;
  const int t = hidden.t;
  const int parts = parts_for(pool, t);
  ThreadPool* inner = parts > 1 ? nullptr : pool;  // for a single range: inside its layers
  // z: [2, t] noise scaled by noise_w (exactly zero when noise_w is 0).
  Act z(2, t);
  if (noise_w != 0.f) {
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : z.d) v = normal(rng) * noise_w;
  }
  Act gb;
  if (g) gb = dp.cond(*g, pool);
  // One time range per thread through every layer: the DDSConv layers read their neighbours'
  // columns (double-buffered: cur -> other), everything else is per column. The last region
  // of a stack also runs what follows it up to the next stack (tail(result, lo, hi)).
  auto dds = [&](const DdsConv& d, Act& cur, Act& other, auto&& tail) {
    const size_t layers = d.sep.size();
    if (layers == 0) for_parts(pool, t, parts, [&](int lo, int hi) { tail(cur, lo, hi); });
    for (size_t i = 0; i < layers; ++i) {
      for_parts(pool, t, parts, [&](int lo, int hi) {
        Act y = conv_columns(d.sep[i], cur, lo, hi, inner);
        norm_gelu(d.norm1[i], y, nullptr, inner);
        y = d.pointwise[i](y, inner);
        norm_gelu(d.norm2[i], y, nullptr, inner);
        // other = cur + y (the residual add of norm_gelu(.., &x, ..)).
        for (int c = 0; c < y.c; ++c) {
          const float* xr = cur.row(c) + lo;
          const float* yr = y.row(c);
          float* o = other.row(c) + lo;
          for (int j = 0; j < y.t; ++j) o[j] = xr[j] + yr[j];
        }
        if (i + 1 == layers) tail(other, lo, hi);
      });
      std::swap(cur, other);
    }
  };
  auto flip_columns = [&](int lo, int hi) {
    std::swap_ranges(z.row(0) + lo, z.row(0) + hi, z.row(1) + lo);
  };
  const size_t nf = dp.flows.size();
  Act cond(dp.proj.cout, t);
  std::vector<Act> flow_in;  // each flow's input h (written while the previous stack runs)
  for (const ConvFlow& cf : dp.flows) flow_in.emplace_back(cf.pre.cout, t);
  // ConvFlow reverse, first part: x0 (row 0 after the flip) conditions h = pre(x0) + cond.
  auto start_flow = [&](size_t fi, int lo, int hi) {
    flip_columns(lo, hi);
    const Act hp = dp.flows[fi].pre(columns(z, 0, 1, lo, hi), inner);
    for (int c = 0; c < hp.c; ++c) {
      float* o = flow_in[fi].row(c) + lo;
      const float* hr = hp.row(c);
      const float* cr = cond.row(c) + lo;
      for (int j = 0; j < hp.t; ++j) o[j] = hr[j] + cr[j];
    }
  };
  // Second part: the spline applied inversely to x1 (row 1), parameters from proj(h).
  auto finish_flow = [&](size_t fi, const Act& h, int lo, int hi) {
    const ConvFlow& cf = dp.flows[fi];
    Act tmp;
    const Act p = cf.proj(columns_of(h, lo, hi, tmp), inner);
    const int np = 3 * cf.num_bins - 1;
    const float pscale = 1.f / std::sqrt(float(cf.filter));
    std::vector<float> params(static_cast<size_t>(np));
    float* x1 = z.row(1);
    for (int i = lo; i < hi; ++i) {
      for (int k = 0; k < np; ++k) params[size_t(k)] = p.row(k)[i - lo];
      // widths and heights are scaled by 1/sqrt(filter); derivatives are not.
      x1[i] = rq_spline_inverse(x1[i], params.data(), cf.num_bins, cf.tail_bound, pscale);
    }
  };
  Act x(dp.pre.cout, t), other(dp.pre.cout, t);
  for_parts(pool, t, parts, [&](int lo, int hi) {
    Act y = conv_columns(dp.pre, hidden, lo, hi, inner);
    if (g) {
      for (int c = 0; c < y.c; ++c) {
        const float v = gb.d[size_t(c)];
        for (int j = 0; j < y.t; ++j) y.row(c)[j] += v;
      }
    }
    put_columns(std::move(y), x, lo);
  });
  dds(dp.convs, x, other, [&](const Act& res, int lo, int hi) {
    put_columns(conv_columns(dp.proj, res, lo, hi, inner), cond, lo);
    if (nf > 0) start_flow(0, lo, hi);
  });
  Act h_other;
  for (size_t fi = 0; fi < nf; ++fi) {
    h_other = Act(flow_in[fi].c, t);
    dds(dp.flows[fi].convs, flow_in[fi], h_other, [&](const Act& res, int lo, int hi) {
      finish_flow(fi, res, lo, hi);
      if (fi + 1 < nf) {
        start_flow(fi + 1, lo, hi);
      } else {
        flip_columns(lo, hi);
      }
    });
  }
  if (nf == 0) flip_channels(z);
  std::vector<float> logw(static_cast<size_t>(t));
  for (int i = 0; i < t; ++i) {
    logw[i] = (z.row(0)[i] - dp.affine_m[0]) * std::exp(dp.affine_exp_arg[0]);
  }
  return logw;
}

Act VitsModel::flow_reverse(Act z, const Act* g, ThreadPool* pool) const {
  const int half = z.c / 2, t = z.t;
  const int parts = parts_for(pool, t, kWinogradPartAlign);
  ThreadPool* inner = parts > 1 ? nullptr : pool;  // for a single range: inside its layers
  for (auto it = flow_.rbegin(); it != flow_.rend(); ++it) {
    flip_channels(z);
    const CouplingLayer& cl = *it;
    const WaveNet& wn = cl.wn;
    const int hid = wn.hidden;
    const int layers = int(wn.in_layers.size());
    Act gall;
    if (g) gall = wn.cond(*g, pool);
    // With several ranges h is double-buffered: a layer reads its neighbours' columns of h as
    // context while they write their next h.
    Act h = parts > 1 ? Act(hid, t) : Act(), h_next = parts > 1 ? Act(hid, t) : Act();
    Act skip(hid, t);
    Act& hn_act = parts > 1 ? h_next : h;  // one range: in place
    for_parts(
        pool, t, parts,
        [&](int lo, int hi) { put_columns(cl.pre(columns(z, 0, half, lo, hi), inner), h, lo); },
        kWinogradPartAlign);
    for (int l = 0; l < layers; ++l) {
      const bool last = l + 1 == layers;
      auto layer = [&](int lo, int hi) {
        const int w = hi - lo;
        Act xin = conv_columns(wn.in_layers[size_t(l)], h, lo, hi, inner);
        if (g) {
          for (int c = 0; c < xin.c; ++c) {
            const float v = gall.d[size_t(l) * 2 * hid + c];
            float* r = xin.row(c);
            for (int i = 0; i < w; ++i) r[i] += v;
          }
        }
        Act acts(hid, w);
        auto gate = [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            tanh_sigmoid_gate(xin.row(int(c)), xin.row(int(c) + hid), w, acts.row(int(c)));
          }
        };
        if (inner) {
          inner->parallel_for(hid, gate, 8);
        } else {
          gate(0, hid);
        }
        const Act rs = wn.res_skip[size_t(l)](acts, inner);
        if (!last) {
          for (int c = 0; c < hid; ++c) {
            const float* hr = h.row(c) + lo;
            float* hn = hn_act.row(c) + lo;
            float* sk = skip.row(c) + lo;
            const float* r = rs.row(c);
            const float* sr = rs.row(c + hid);
            for (int i = 0; i < w; ++i) {
              hn[i] = hr[i] + r[i];
              sk[i] += sr[i];
            }
          }
          return;
        }
        // Last layer: skip only, then post and the coupling, all per column.
        for (int c = 0; c < hid; ++c) {
          float* sk = skip.row(c) + lo;
          const float* r = rs.row(c);
          for (int i = 0; i < w; ++i) sk[i] += r[i];
        }
        Act tmp;
        const Act m = cl.post(columns_of(skip, lo, hi, tmp), inner);
        for (int c = 0; c < half; ++c) {
          float* x1 = z.row(half + c) + lo;
          const float* mr = m.row(c);
          for (int i = 0; i < w; ++i) x1[i] -= mr[i];
        }
      };
      for_parts(pool, t, parts, layer, kWinogradPartAlign);
      if (!last && parts > 1) std::swap(h, h_next);
    }
  }
  return z;
}

std::vector<float> VitsModel::decode(const Act& z, const Act* g, ThreadPool* pool) const {
  const Decoder& d = dec_;
  Act x = conv_parts(d.conv_pre, z, pool);
  if (g) add_bias_rows(x, d.cond(*g, pool));
  for (size_t i = 0; i < d.ups.size(); ++i) {
    x = d.ups[i](x, pool, d.lrelu_slope);
    // The parallel residual blocks are independent: with several threads each block runs on
    // one thread (one hand-off per stage instead of one per convolution). Their costs differ
    // (kernel 7 : 5 : 3), so on long stages each block is also cut into one time range per
    // thread (resblock_range: the same values bit for bit), which balances the threads.
    // Summation order stays fixed (j ascending).
    const int nk = d.kernels_per_up;
    std::vector<Act> outs(static_cast<size_t>(nk));
    const int threads = pool ? pool->size() : 1;
    if (threads > 1 && nk > 1) {
      const int parts = x.t >= kMinSplitSamples ? threads : 1;
      if (parts > 1) {
        for (Act& o : outs) o = Act(x.c, x.t);
      }
      pool->parallel_for(int64_t(nk) * parts, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          const int j = nk - 1 - int(c / parts), part = int(c % parts);
          const ResBlock& rb = d.resblocks[i * nk + j];
          if (parts == 1) {
            outs[size_t(j)] = resblock_forward(rb, x, nullptr, d.lrelu_slope);
            continue;
          }
          const int lo = int(int64_t(x.t) * part / parts);
          const int hi = int(int64_t(x.t) * (part + 1) / parts);
          resblock_range(rb, x, lo, hi, d.lrelu_slope, outs[size_t(j)]);
        }
      });
    } else {
      for (int j = 0; j < nk; ++j)
        outs[size_t(j)] = resblock_forward(d.resblocks[i * nk + j], x, pool, d.lrelu_slope);
    }
    // Mean of the blocks, in place in the first (same order: ((o0 + o1) + o2) / 3), block by
    // block so each block of o0 stays in cache over the sums, split over the threads.
    const float inv = 1.f / float(d.kernels_per_up);
    float* s0 = outs[0].d.data();
    const size_t len = outs[0].d.size();
    for_blocks(pool, len, [&](size_t e0, size_t e1) {
      for (int j = 1; j < nk; ++j) {
        const float* sj = outs[size_t(j)].d.data();
        if (j + 1 < nk) {
          for (size_t e = e0; e < e1; ++e) s0[e] += sj[e];
        } else {
          for (size_t e = e0; e < e1; ++e) s0[e] = (s0[e] + sj[e]) * inv;
        }
      }
      if (nk == 1) {
        for (size_t e = e0; e < e1; ++e) s0[e] *= inv;
      }
    });
    x = std::move(outs[0]);
  }
  const Act y = d.conv_post(x, pool, d.final_lrelu_slope);
  std::vector<float> audio(y.d.size());
  for_blocks(pool, y.d.size(), [&](size_t e0, size_t e1) {
    tanh_array(y.d.data() + e0, int64_t(e1 - e0), audio.data() + e0);
  });
  return audio;
}

Act VitsModel::prior(std::span<const int64_t> ids, const VitsOptions& opt, Act* g,
                     VitsTrace* trace) const {
  if (ids.empty()) throw Error("vits: no phoneme ids");
  if (opt.speaker < 0 || opt.speaker >= num_speakers_) {
    throw Error("speaker " + std::to_string(opt.speaker) + " out of range (voice has " +
                std::to_string(num_speakers_) + ")");
  }
  ThreadPool* pool = opt.pool;
  std::mt19937_64 rng(opt.seed);
  const Act* gp = nullptr;
  if (gin_ > 0) {
    *g = Act(gin_, 1);
    std::copy_n(emb_g_.data() + size_t(opt.speaker) * gin_, gin_, g->d.begin());
    gp = g;
  }
  Act hidden;
  const Act stats = encode(ids, &hidden, pool);
  const int t = int(ids.size());
  const int inter = enc_.inter;
  const std::vector<float> logw = predict_logw(hidden, gp, opt.noise_w, rng, pool);
  std::vector<int> dur(static_cast<size_t>(t));
  int64_t total = 0;
  for (int i = 0; i < t; ++i) {
    const float w = std::exp(logw[i]) * opt.length_scale;
    const double c = std::ceil(double(w));
    // A sentence over ~10 minutes of audio is a runaway duration, not speech.
    if (!(c >= 0) || c > 1e6) throw Error("vits: duration out of range");
    dur[i] = int(c);
    total += dur[i];
  }
  if (total > 10'000'000 / hop_length()) throw Error("vits: output too long");
  const int y_len = int(std::max<int64_t>(total, 1));
  // Length regulation + z_p = m_p + noise * exp(logs_p) * noise_scale.
  Act zp(inter, y_len);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int c = 0; c < inter; ++c) {
    const float* m = stats.row(c);
    const float* ls = stats.row(inter + c);
    float* out = zp.row(c);
    int pos = 0;
    for (int i = 0; i < t; ++i) {
      for (int k = 0; k < dur[i]; ++k) out[pos++] = m[i];
    }
    if (opt.noise_scale != 0.f) {
      pos = 0;
      for (int i = 0; i < t; ++i) {
        for (int k = 0; k < dur[i]; ++k, ++pos) {
          out[pos] += normal(rng) * std::exp(ls[i]) * opt.noise_scale;
        }
      }
    }
  }
  if (trace) {
    trace->m_p = Act(inter, t);
    trace->logs_p = Act(inter, t);
    std::copy_n(stats.d.begin(), size_t(inter) * t, trace->m_p.d.begin());
    std::copy_n(stats.d.begin() + size_t(inter) * t, size_t(inter) * t, trace->logs_p.d.begin());
    trace->logw = logw;
    trace->durations = dur;
  }
  return zp;
}

std::vector<float> VitsModel::synthesize(std::span<const int64_t> ids, const VitsOptions& opt,
                                         VitsTrace* trace) const {
  Act g;
  const Act* gp = gin_ > 0 ? &g : nullptr;
  Act zp = prior(ids, opt, &g, trace);
  const Act z = flow_reverse(std::move(zp), gp, opt.pool);
  if (trace) trace->dec_in = z;
  return decode(z, gp, opt.pool);
}

namespace {
// How far one side of a convolution's output depends on its input, in input samples. A
// Winograd tile computes its m outputs from all of its inputs: mathematically the extra taps
// cancel, but their rounding does not, so for bit-exact chunks the tile span counts.
double reach(const Conv1d& c) {
  double r = c.dilation * (c.k - 1) / 2.0;
  if (c.wino.ready()) r += double(c.wino.m() - 1) * c.dilation;
  return r;
}
}  // namespace

int VitsModel::decoder_context_frames() const {
  const Decoder& d = dec_;
  double frames = reach(d.conv_pre);
  double rate = 1;  // samples of the current stage per decoder frame
  for (size_t i = 0; i < d.ups.size(); ++i) {
    const ConvTranspose1d& u = d.ups[i];
    frames += (double(u.k) / u.stride + 1) / rate;
    if (u.wino.ready()) frames += double(u.wino.m() - 1) / rate;  // its Winograd tile span
    rate *= u.stride;
    double widest = 0;
    for (int j = 0; j < d.kernels_per_up; ++j) {
      const ResBlock& rb = d.resblocks[i * d.kernels_per_up + j];
      double span = 0;
      for (const Conv1d& c : rb.convs) span += reach(c);
      for (const Conv1d& c : rb.convs2) span += reach(c);
      widest = std::max(widest, span);
    }
    frames += widest / rate;
  }
  frames += reach(d.conv_post) / rate;
  return int(std::ceil(frames)) + 2;
}

int VitsModel::decoder_alignment_frames() const {
  const Decoder& d = dec_;
  int align = 1;
  // A layer at `rate` samples per frame with tile groups of L samples needs the part to start
  // at a multiple of L / gcd(L, rate) frames.
  auto need = [&](const Conv1d& c, int rate) {
    if (!c.wino.ready()) return;
    const int l = c.wino.m() * c.dilation;
    align = std::lcm(align, l / std::gcd(l, rate));
  };
  need(d.conv_pre, 1);
  int rate = 1;
  for (size_t i = 0; i < d.ups.size(); ++i) {
    if (d.ups[i].wino.ready()) {  // tiles of m input samples at the current rate
      const int l = d.ups[i].wino.m();
      align = std::lcm(align, l / std::gcd(l, rate));
    }
    rate *= d.ups[i].stride;
    for (int j = 0; j < d.kernels_per_up; ++j) {
      const ResBlock& rb = d.resblocks[i * d.kernels_per_up + j];
      for (const Conv1d& c : rb.convs) need(c, rate);
      for (const Conv1d& c : rb.convs2) need(c, rate);
    }
  }
  need(d.conv_post, rate);
  return align;
}

void VitsModel::prepare() {
#if defined(__GLIBC__)
  // Synthesis allocates and frees tens of MB of activations per sentence. glibc's defaults hand
  // large blocks back to the kernel (mmap/munmap, heap trimming), so every sentence re-faults
  // its pages: 15% of first-audio time on the medium voice. Keep them in the heap instead.
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  });
#endif
  auto dds = [](DdsConv& d) {
    for (Conv1d& c : d.sep) c.prepare();
    for (Conv1d& c : d.pointwise) c.prepare();
  };
  for (MultiHeadAttention& a : enc_.attn) {
    for (Conv1d* c : {&a.q, &a.k, &a.v, &a.o}) c->prepare();
  }
  // The FFN runs on one column per phoneme (~100 per sentence): F(8,3) would need 10
  // transformed [768 x 192] matrices per convolution (5.9 MB, streamed from memory for ~14
  // tiles each); F(4,3) needs 6 and fills a 32-column GEMM tile. Encoder 17.6 -> 15.6 ms on a
  // 109-phoneme sentence, 12.7 -> 8.1 ms on 40, the same on 200-330.
  for (Ffn& f : enc_.ffn) {
    f.conv1.prepare(WinogradConv::enabled_by_default(), 4);
    f.conv2.prepare(WinogradConv::enabled_by_default(), 4);
  }
  enc_.proj.prepare();
  dp_.pre.prepare();
  dp_.proj.prepare();
  if (gin_) dp_.cond.prepare();
  dds(dp_.convs);
  for (ConvFlow& cf : dp_.flows) {
    cf.pre.prepare();
    cf.proj.prepare();
    dds(cf.convs);
  }
  for (CouplingLayer& cl : flow_) {
    cl.pre.prepare();
    cl.post.prepare();
    for (Conv1d& c : cl.wn.in_layers) c.prepare();
    for (Conv1d& c : cl.wn.res_skip) c.prepare();
    if (gin_) cl.wn.cond.prepare();
  }
  dec_.conv_pre.prepare();
  dec_.conv_post.prepare();
  for (ConvTranspose1d& u : dec_.ups) u.prepare();
  if (gin_) dec_.cond.prepare();
  for (ResBlock& rb : dec_.resblocks) {
    for (Conv1d& c : rb.convs) c.prepare();
    for (Conv1d& c : rb.convs2) c.prepare();
  }
}

int VitsModel::flow_context_frames() const {
  int frames = 0;
  for (const CouplingLayer& c : flow_) {
    // Only the WaveNet convs look sideways (pre/post are 1x1); each coupling layer's output
    // depends on its input through them alone.
    for (const Conv1d& conv : c.wn.in_layers) frames += int(std::ceil(reach(conv)));
  }
  return frames + 2;
}

bool VitsModel::synthesize_streaming(std::span<const int64_t> ids, const VitsOptions& opt,
                                     int chunk_frames, const OnChunk& on_chunk,
                                     int first_chunk_frames) const {
  Act g;
  Act zp = prior(ids, opt, &g, nullptr);
  const Act* gp = gin_ > 0 ? &g : nullptr;
  const int ctx = decoder_context_frames();
  const int align = decoder_alignment_frames();
  const int hop = hop_length();
  chunk_frames = std::max(1, chunk_frames);
  if (first_chunk_frames <= 0) first_chunk_frames = chunk_frames;
  const int y_len = zp.t;
  // Decodes frames [start, end) of z (with up to ctx frames of context each side) and hands
  // them on.
  auto deliver = [&](const Act& z, int start, int end) {
    // Winograd tiles are laid out from the start of the decoded part: starting it on the
    // tile grid of every layer keeps each sample's arithmetic that of the whole sentence.
    const int lo = std::max(0, start - ctx) / align * align, hi = std::min(z.t, end + ctx);
    Act part(z.c, hi - lo);
    for (int c = 0; c < z.c; ++c) std::copy(z.row(c) + lo, z.row(c) + hi, part.row(c));
    const std::vector<float> audio = decode(part, gp, opt.pool);
    const size_t from = size_t(start - lo) * hop;
    return on_chunk(std::span<const float>(audio).subspan(from, size_t(end - start) * hop),
                    end == y_len);
  };
  // First audio early: run the flow over just the frames the (small) first chunk needs plus
  // the flow's own receptive field, decode and deliver that chunk, then run the flow over the
  // whole sentence for the rest. Both give the same values where they are used.
  const int first_end = std::min(zp.t, first_chunk_frames);
  const int flow_end = std::min(zp.t, first_end + ctx + flow_context_frames());
  int start = 0;
  if (flow_end < y_len) {
    Act head(zp.c, flow_end);
    for (int c = 0; c < zp.c; ++c) std::copy(zp.row(c), zp.row(c) + flow_end, head.row(c));
    const Act zh = flow_reverse(std::move(head), gp, opt.pool);
    // Right context past flow_end is not needed: first_end + ctx <= flow_end.
    if (!deliver(zh, 0, first_end)) return false;
    start = first_end;
  }
  const Act z = flow_reverse(std::move(zp), gp, opt.pool);
  while (start < y_len) {
    const int end = std::min(y_len, start + (start == 0 ? first_end : chunk_frames));
    if (!deliver(z, start, end)) return false;
    start = end;
  }
  return true;
}

}  // namespace omni::tts
