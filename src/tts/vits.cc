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

// Relative-position multi-head self-attention (VITS attentions.MultiHeadAttention with
// window_size, heads sharing the relative embeddings, no mask: batch 1, full length). Heads are
// independent: one per thread.
Act attention(const MultiHeadAttention& a, const Act& x, ThreadPool* pool) {
  const Act q = a.q(x, pool), k = a.k(x, pool), v = a.v(x, pool);
  const int t = x.t, heads = a.n_heads, hd = x.c / heads;
  const float scale = 1.f / std::sqrt(float(hd));
  Act out(x.c, t);
  auto run = [&](int64_t h0, int64_t h1) {
    for (int64_t hh = h0; hh < h1; ++hh) {
      const int r0 = int(hh) * hd;
      rel_attention_head(q.row(r0), k.row(r0), v.row(r0), t, hd, scale, a.emb_rel_k.data(),
                         a.emb_rel_v.data(), a.window, out.row(r0));
    }
  };
  if (pool) {
    pool->parallel_for(heads, run);
  } else {
    run(0, heads);
  }
  return a.o(out, pool);
}

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

// x = LayerNorm(x + y) (y may be null), split over time columns.
void add_norm(const ChannelLayerNorm& ln, Act& x, const Act* y, ThreadPool* pool) {
  for_columns(pool, x, [&](int t0, int t1) {
    if (y) {
      for (int c = 0; c < x.c; ++c) {
        float* r = x.row(c);
        const float* s = y->row(c);
        for (int t = t0; t < t1; ++t) r[t] += s[t];
      }
    }
    layer_norm_columns(ln, x, t0, t1);
  });
}

// y = gelu(LayerNorm(y)), then res += y if res is given, split over time columns.
void norm_gelu(const ChannelLayerNorm& ln, Act& y, Act* res, ThreadPool* pool) {
  for_columns(pool, y, [&](int t0, int t1) {
    layer_norm_columns(ln, y, t0, t1);
    for (int c = 0; c < y.c; ++c) {
      float* r = y.row(c);
      for (int t = t0; t < t1; ++t) {
        r[t] = 0.5f * r[t] * (1.f + std::erf(r[t] * 0.70710678118654752f));
      }
      if (res) {
        float* o = res->row(c);
        for (int t = t0; t < t1; ++t) o[t] += r[t];
      }
    }
  });
}

// DDSConv: residual stack of depthwise dilated conv -> LN -> GELU -> 1x1 -> LN -> GELU.
void dds_forward(const DdsConv& d, Act& x, ThreadPool* pool) {
  for (size_t i = 0; i < d.sep.size(); ++i) {
    Act y = d.sep[i](x, pool);
    norm_gelu(d.norm1[i], y, nullptr, pool);
    y = d.pointwise[i](y, pool);
    norm_gelu(d.norm2[i], y, &x, pool);
  }
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
  for (size_t l = 0; l < e.attn.size(); ++l) {
    Act y = attention(e.attn[l], x, pool);
    add_norm(e.norm1[l], x, &y, pool);
    Act f = e.ffn[l].conv1(x, pool);
    relu(f);
    e.ffn[l].conv2.accumulate(f, x, pool);
    add_norm(e.norm2[l], x, nullptr, pool);
  }
  Act stats = e.proj(x, pool);
  *hidden = std::move(x);
  return stats;
}

std::vector<float> VitsModel::predict_logw(const Act& hidden, const Act* g, float noise_w,
                                           std::mt19937_64& rng, ThreadPool* pool) const {
  const DurationPredictor& dp = dp_;
  const int t = hidden.t;
  Act x = dp.pre(hidden, pool);
  if (g) add_bias_rows(x, dp.cond(*g, pool));
  dds_forward(dp.convs, x, pool);
  const Act cond = dp.proj(x, pool);
  // z: [2, t] noise scaled by noise_w (exactly zero when noise_w is 0).
  Act z(2, t);
  if (noise_w != 0.f) {
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : z.d) v = normal(rng) * noise_w;
  }
  for (const ConvFlow& cf : dp.flows) {
    flip_channels(z);
    // ConvFlow reverse: x0 conditions a spline applied inversely to x1.
    Act x0(1, t);
    std::copy(z.row(0), z.row(0) + t, x0.row(0));
    Act h = cf.pre(x0, pool);
    add_into(h, cond);
    dds_forward(cf.convs, h, pool);
    const Act p = cf.proj(h, pool);
    const int np = 3 * cf.num_bins - 1;
    const float pscale = 1.f / std::sqrt(float(cf.filter));
    std::vector<float> params(static_cast<size_t>(np));
    float* x1 = z.row(1);
    for (int i = 0; i < t; ++i) {
      for (int k = 0; k < np; ++k) params[k] = p.row(k)[i];
      // widths and heights are scaled by 1/sqrt(filter); derivatives are not.
      x1[i] = rq_spline_inverse(x1[i], params.data(), cf.num_bins, cf.tail_bound, pscale);
    }
  }
  flip_channels(z);
  std::vector<float> logw(static_cast<size_t>(t));
  for (int i = 0; i < t; ++i) {
    logw[i] = (z.row(0)[i] - dp.affine_m[0]) * std::exp(dp.affine_exp_arg[0]);
  }
  return logw;
}

Act VitsModel::flow_reverse(Act z, const Act* g, ThreadPool* pool) const {
  const int half = z.c / 2;
  for (auto it = flow_.rbegin(); it != flow_.rend(); ++it) {
    flip_channels(z);
    const CouplingLayer& cl = *it;
    Act x0(half, z.t);
    std::copy(z.row(0), z.row(0) + size_t(half) * z.t, x0.d.begin());
    Act h = cl.pre(x0, pool);
    // WaveNet
    const WaveNet& wn = cl.wn;
    Act gall;
    if (g) gall = wn.cond(*g, pool);
    Act skip(wn.hidden, z.t);
    for (size_t l = 0; l < wn.in_layers.size(); ++l) {
      Act xin = wn.in_layers[l](h, pool);
      if (g) {
        for (int c = 0; c < xin.c; ++c) {
          const float v = gall.d[size_t(l) * 2 * wn.hidden + c];
          float* r = xin.row(c);
          for (int t = 0; t < xin.t; ++t) r[t] += v;
        }
      }
      Act acts(wn.hidden, z.t);
      auto gate = [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          tanh_sigmoid_gate(xin.row(int(c)), xin.row(int(c) + wn.hidden), z.t, acts.row(int(c)));
        }
      };
      if (pool) {
        pool->parallel_for(wn.hidden, gate, 8);
      } else {
        gate(0, wn.hidden);
      }
      const Act rs = wn.res_skip[l](acts, pool);
      if (l + 1 < wn.in_layers.size()) {
        for (int c = 0; c < wn.hidden; ++c) {
          float* hr = h.row(c);
          const float* r = rs.row(c);
          float* s = skip.row(c);
          const float* sr = rs.row(c + wn.hidden);
          for (int t = 0; t < z.t; ++t) {
            hr[t] += r[t];
            s[t] += sr[t];
          }
        }
      } else {
        add_into(skip, rs);
      }
    }
    const Act m = cl.post(skip, pool);
    for (int c = 0; c < half; ++c) {
      float* x1 = z.row(half + c);
      const float* mr = m.row(c);
      for (int t = 0; t < z.t; ++t) x1[t] -= mr[t];
    }
  }
  return z;
}

std::vector<float> VitsModel::decode(const Act& z, const Act* g, ThreadPool* pool) const {
  const Decoder& d = dec_;
  Act x = d.conv_pre(z, pool);
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
    // Mean of the blocks in one pass, in place in the first (same order: ((o0 + o1) + o2) / 3).
    const float inv = 1.f / float(d.kernels_per_up);
    float* s0 = outs[0].d.data();
    const size_t len = outs[0].d.size();
    for (int j = 1; j < nk; ++j) {
      const float* sj = outs[size_t(j)].d.data();
      if (j + 1 < nk) {
        for (size_t e = 0; e < len; ++e) s0[e] += sj[e];
      } else {
        for (size_t e = 0; e < len; ++e) s0[e] = (s0[e] + sj[e]) * inv;
      }
    }
    if (nk == 1) {
      for (size_t e = 0; e < len; ++e) s0[e] *= inv;
    }
    x = std::move(outs[0]);
  }
  const Act y = d.conv_post(x, pool, d.final_lrelu_slope);
  std::vector<float> audio(y.d.size());
  tanh_array(y.d.data(), int64_t(y.d.size()), audio.data());
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
  for (Ffn& f : enc_.ffn) {
    f.conv1.prepare();
    f.conv2.prepare();
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
