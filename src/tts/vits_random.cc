// Random-weight VITS models of any Piper shape: benchmarks need the real "medium" sizes, which
// are not shipped as files.
#include <cmath>
#include <random>

#include "tts/vits.h"

namespace omni::tts {
namespace {

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  std::vector<float> uniform(size_t n, float bound) {
    std::uniform_real_distribution<float> u(-bound, bound);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng_);
    return v;
  }

  Conv1d conv(int cin, int cout, int k, int dilation = 1, int groups = 1, bool bias = true) {
    Conv1d c;
    c.cin = cin;
    c.cout = cout;
    c.k = k;
    c.dilation = dilation;
    c.groups = groups;
    c.pad = dilation * (k - 1) / 2;
    const float bound = 1.f / std::sqrt(float(cin / groups * k));
    c.w = uniform(size_t(cout) * (cin / groups) * k, bound);
    if (bias) c.b = uniform(size_t(cout), bound);
    return c;
  }

  ChannelLayerNorm norm(int c) {
    ChannelLayerNorm n;
    n.gamma.assign(size_t(c), 1.f);
    n.beta.assign(size_t(c), 0.f);
    return n;
  }

  DdsConv dds(int c, int layers) {
    DdsConv d;
    int dil = 1;
    for (int i = 0; i < layers; ++i, dil *= 3) {
      d.sep.push_back(conv(c, c, 3, dil, c));
      d.pointwise.push_back(conv(c, c, 1));
      d.norm1.push_back(norm(c));
      d.norm2.push_back(norm(c));
    }
    return d;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

VitsModel VitsModel::random(const VitsShape& s, uint64_t seed) {
  Gen g(seed);
  VitsModel m;
  TextEncoder& e = m.enc_;
  e.n_vocab = s.n_vocab;
  e.hidden = s.hidden;
  e.inter = s.inter;
  e.emb = g.uniform(size_t(s.n_vocab) * s.hidden, std::sqrt(3.f / float(s.hidden)));
  const int hd = s.hidden / s.n_heads;
  for (int l = 0; l < s.n_layers; ++l) {
    MultiHeadAttention a;
    a.q = g.conv(s.hidden, s.hidden, 1);
    a.k = g.conv(s.hidden, s.hidden, 1);
    a.v = g.conv(s.hidden, s.hidden, 1);
    a.o = g.conv(s.hidden, s.hidden, 1);
    a.n_heads = s.n_heads;
    a.window = s.window;
    a.emb_rel_k = g.uniform(size_t(2 * s.window + 1) * hd, 1.f / std::sqrt(float(hd)));
    a.emb_rel_v = g.uniform(size_t(2 * s.window + 1) * hd, 1.f / std::sqrt(float(hd)));
    e.attn.push_back(std::move(a));
    e.norm1.push_back(g.norm(s.hidden));
    e.norm2.push_back(g.norm(s.hidden));
    e.ffn.push_back({g.conv(s.hidden, s.filter, 3), g.conv(s.filter, s.hidden, 3)});
  }
  e.proj = g.conv(s.hidden, 2 * s.inter, 1);
  m.num_speakers_ = s.num_speakers;
  m.gin_ = s.gin;
  if (s.gin) m.emb_g_ = g.uniform(size_t(s.num_speakers) * s.gin, 1.f);

  DurationPredictor& dp = m.dp_;
  dp.pre = g.conv(s.hidden, s.dp_filter, 1);
  dp.convs = g.dds(s.dp_filter, 3);
  dp.proj = g.conv(s.dp_filter, s.dp_filter, 1);
  if (s.gin) dp.cond = g.conv(s.gin, s.dp_filter, 1);
  dp.affine_m = {-0.4f, 0.f};
  dp.affine_exp_arg = {0.f, 0.f};
  for (int i = 0; i < s.dp_flows; ++i) {
    ConvFlow cf;
    cf.pre = g.conv(1, s.dp_filter, 1);
    cf.convs = g.dds(s.dp_filter, 3);
    cf.proj = g.conv(s.dp_filter, 3 * cf.num_bins - 1, 1);
    cf.filter = s.dp_filter;
    dp.flows.push_back(std::move(cf));
  }

  for (int f = 0; f < s.flows; ++f) {
    CouplingLayer c;
    c.pre = g.conv(s.inter / 2, s.hidden, 1);
    c.post = g.conv(s.hidden, s.inter / 2, 1);
    c.wn.hidden = s.hidden;
    for (int l = 0; l < s.wn_layers; ++l) {
      c.wn.in_layers.push_back(g.conv(s.hidden, 2 * s.hidden, s.wn_kernel));
      c.wn.res_skip.push_back(
          g.conv(s.hidden, l + 1 < s.wn_layers ? 2 * s.hidden : s.hidden, 1));
    }
    if (s.gin) c.wn.cond = g.conv(s.gin, 2 * s.hidden * s.wn_layers, 1);
    m.flow_.push_back(std::move(c));
  }

  Decoder& d = m.dec_;
  d.conv_pre = g.conv(s.inter, s.up_initial, 7);
  if (s.gin) d.cond = g.conv(s.gin, s.up_initial, 1);
  d.kernels_per_up = int(s.rb_kernels.size());
  int ch = s.up_initial;
  for (size_t i = 0; i < s.up_rates.size(); ++i) {
    ConvTranspose1d u;
    u.cin = ch;
    u.cout = ch / 2;
    u.k = s.up_kernels[i];
    u.stride = s.up_rates[i];
    u.pad = (u.k - u.stride) / 2;
    u.w = g.uniform(size_t(u.cin) * u.cout * u.k, 0.01f);
    u.b = g.uniform(size_t(u.cout), 0.01f);
    d.ups.push_back(std::move(u));
    ch /= 2;
    for (size_t j = 0; j < s.rb_kernels.size(); ++j) {
      ResBlock rb;
      for (int dil : s.rb_dilations[j]) rb.convs.push_back(g.conv(ch, ch, s.rb_kernels[j], dil));
      d.resblocks.push_back(std::move(rb));
    }
  }
  d.conv_post = g.conv(ch, 1, 7, 1, 1, /*bias=*/false);
  m.prepare();
  return m;
}

}  // namespace omni::tts
