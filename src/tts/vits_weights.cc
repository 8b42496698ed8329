// Maps a Piper voice's ONNX initializers onto VitsModel. torch.onnx.export names most
// initializers after the torch module (`enc_p.encoder.attn_layers.0.conv_q.weight`), but not
// all: folded weight-norm weights become `onnx::Conv_NNNN`, the duration predictor's folded
// -logs becomes `onnx::Exp_NNNN`, duplicate tensors (equal LayerNorm gammas) are stored once and
// aliased through Identity nodes, and single-speaker exports call the text embedding `sid`.
// The node names keep the module path (`/flow/flows.6/enc/in_layers.0/Conv`), so each opaque
// initializer is named after the module of the node that consumes it.
#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "tts/vits.h"

namespace omni::tts {

class VitsLoader {
 public:
  VitsLoader(const onnx::Model& model, const std::string& source) : source_(source) {
    const onnx::Graph& g = model.graph;
    for (const onnx::Tensor& t : g.initializers) tensors_.emplace(t.name, &t);
    // Identity aliases (possibly chained).
    for (bool changed = true; changed;) {
      changed = false;
      for (const onnx::Node& n : g.nodes) {
        if (n.op_type != "Identity" || n.inputs.size() != 1 || n.outputs.size() != 1) continue;
        auto it = tensors_.find(n.inputs[0]);
        if (it != tensors_.end() && !tensors_.count(n.outputs[0])) {
          tensors_.emplace(n.outputs[0], it->second);
          changed = true;
        }
      }
    }
    for (const onnx::Node& n : g.nodes) {
      const std::string path = module_path(n.name);
      if (path.empty()) continue;
      auto name_input = [&](size_t i, const char* role) {
        if (i >= n.inputs.size()) return;
        auto it = tensors_.find(n.inputs[i]);
        if (it == tensors_.end()) return;
        named_.emplace(path + "." + role, it->second);
      };
      if (n.op_type == "Conv" || n.op_type == "ConvTranspose") {
        name_input(1, "weight");
        name_input(2, "bias");
        conv_nodes_.emplace(path, &n);
      } else if (n.op_type == "Gather") {
        name_input(0, "weight");
      } else if (n.op_type == "Exp") {
        name_input(0, "exp_arg");
      }
    }
  }

  const onnx::Tensor* find(const std::string& name) const {
    if (auto it = tensors_.find(name); it != tensors_.end()) return it->second;
    if (auto it = named_.find(name); it != named_.end()) return it->second;
    return nullptr;
  }
  bool has(const std::string& name) const { return find(name) != nullptr; }

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(source_ + ": " + what + " (not a Piper VITS voice graph we understand)");
  }

  // A float tensor of the given rank; dims < 0 in `want` are free.
  const onnx::Tensor& need(const std::string& name, std::vector<int64_t> want) const {
    const onnx::Tensor* t = find(name);
    if (!t) fail("missing weight '" + name + "'");
    if (t->data_type != onnx::kFloat) fail("weight '" + name + "' is not float32");
    bool ok = t->dims.size() == want.size();
    for (size_t i = 0; ok && i < want.size(); ++i) ok = want[i] < 0 || want[i] == t->dims[i];
    if (!ok) {
      std::string got;
      for (int64_t d : t->dims) {
        if (!got.empty()) got.push_back(',');
        got.append(std::to_string(d));
      }
      fail("weight '" + name + "' has shape [" + got + "]");
    }
    for (int64_t d : t->dims) {
      if (d <= 0 || d > (1 << 24)) fail("weight '" + name + "' has a bad dimension");
    }
    return *t;
  }

  int64_t attr_int(const onnx::Node& n, const char* name, int64_t dflt) const {
    const onnx::Attribute* a = n.attribute(name);
    if (!a) return dflt;
    if (!a->ints.empty()) {
      if (a->ints.size() == 2 && a->ints[0] != a->ints[1]) {
        fail("node '" + n.name + "' has asymmetric " + name);
      }
      return a->ints[0];
    }
    return a->i;
  }

  template <class C>
  void conv_common(C& c, const std::string& prefix, const onnx::Tensor& w) const {
    auto it = conv_nodes_.find(prefix);
    if (it == conv_nodes_.end()) fail("no convolution node for '" + prefix + "'");
    const onnx::Node& n = *it->second;
    c.k = int(w.dims[2]);
    c.stride = int(attr_int(n, "strides", 1));
    c.pad = int(attr_int(n, "pads", 0));
    if (c.stride < 1 || c.stride > 64 || c.pad < 0 || c.pad > 4096) {
      fail("node '" + n.name + "' has unsupported stride/pads");
    }
    c.w = w.f32;
  }

  Conv1d conv(const std::string& prefix, bool bias = true) const {
    const onnx::Tensor& w = need(prefix + ".weight", {-1, -1, -1});
    Conv1d c;
    conv_common(c, prefix, w);
    const onnx::Node& n = *conv_nodes_.at(prefix);
    c.dilation = int(attr_int(n, "dilations", 1));
    c.groups = int(attr_int(n, "group", 1));
    if (c.dilation < 1 || c.dilation > 4096 || c.groups < 1 || c.groups > 65536) {
      fail("node '" + n.name + "' has unsupported dilations/group");
    }
    c.cout = int(w.dims[0]);
    if (w.dims[1] * c.groups > (1 << 24)) fail("'" + prefix + "': too many input channels");
    c.cin = int(w.dims[1] * c.groups);
    if (c.cout % c.groups) fail("'" + prefix + "': output channels not divisible by group");
    if (bias) c.b = need(prefix + ".bias", {c.cout}).f32;
    return c;
  }

  ConvTranspose1d conv_t(const std::string& prefix) const {
    const onnx::Tensor& w = need(prefix + ".weight", {-1, -1, -1});
    ConvTranspose1d c;
    conv_common(c, prefix, w);
    const onnx::Node& n = *conv_nodes_.at(prefix);
    if (attr_int(n, "group", 1) != 1 || attr_int(n, "dilations", 1) != 1) {
      fail("node '" + n.name + "': grouped or dilated ConvTranspose");
    }
    c.cin = int(w.dims[0]);
    c.cout = int(w.dims[1]);
    c.b = need(prefix + ".bias", {c.cout}).f32;
    return c;
  }

  ChannelLayerNorm norm(const std::string& prefix, int channels) const {
    ChannelLayerNorm ln;
    ln.gamma = need(prefix + ".gamma", {channels}).f32;
    ln.beta = need(prefix + ".beta", {channels}).f32;
    return ln;
  }

  int count(const std::string& head, const std::string& tail) const {
    int n = 0;
    while (has(head + std::to_string(n) + tail)) ++n;
    return n;
  }

  DdsConv dds(const std::string& prefix, int channels) const {
    DdsConv d;
    const int layers = count(prefix + ".convs_sep.", ".weight");
    if (layers == 0) fail("missing weight '" + prefix + ".convs_sep.0.weight'");
    for (int i = 0; i < layers; ++i) {
      const std::string s = std::to_string(i);
      d.sep.push_back(conv(prefix + ".convs_sep." + s));
      d.pointwise.push_back(conv(prefix + ".convs_1x1." + s));
      check_conv(d.sep.back(), channels, channels, prefix + ".convs_sep." + s);
      check_conv(d.pointwise.back(), channels, channels, prefix + ".convs_1x1." + s);
      d.norm1.push_back(norm(prefix + ".norms_1." + s, channels));
      d.norm2.push_back(norm(prefix + ".norms_2." + s, channels));
    }
    return d;
  }

  // Shapes must chain; "same" padding keeps the length for stride-1 layers.
  void check_conv(const Conv1d& c, int cin, int cout, const std::string& name) const {
    if ((cin >= 0 && c.cin != cin) || (cout >= 0 && c.cout != cout)) {
      fail("'" + name + "' has " + std::to_string(c.cin) + "->" + std::to_string(c.cout) +
           " channels, expected " + std::to_string(cin) + "->" + std::to_string(cout));
    }
    if (c.stride != 1 || 2 * c.pad != c.dilation * (c.k - 1)) {
      fail("'" + name + "' is not a length-preserving convolution");
    }
  }

  VitsModel build() const {
    VitsModel m;
    // ---- text encoder
    TextEncoder& e = m.enc_;
    const onnx::Tensor& emb = need("enc_p.emb.weight", {-1, -1});
    e.n_vocab = int(emb.dims[0]);
    e.hidden = int(emb.dims[1]);
    e.emb = emb.f32;
    const int h = e.hidden;
    const int layers = count("enc_p.encoder.attn_layers.", ".conv_q.weight");
    if (layers == 0) fail("missing weight 'enc_p.encoder.attn_layers.0.conv_q.weight'");
    for (int i = 0; i < layers; ++i) {
      const std::string p = "enc_p.encoder.attn_layers." + std::to_string(i);
      MultiHeadAttention a;
      a.q = conv(p + ".conv_q");
      a.k = conv(p + ".conv_k");
      a.v = conv(p + ".conv_v");
      a.o = conv(p + ".conv_o");
      for (const Conv1d* c : {&a.q, &a.k, &a.v, &a.o}) check_conv(*c, h, h, p);
      const onnx::Tensor& rk = need(p + ".emb_rel_k", {1, -1, -1});
      const onnx::Tensor& rv = need(p + ".emb_rel_v", {1, rk.dims[1], rk.dims[2]});
      const int head_dim = int(rk.dims[2]);
      if (rk.dims[1] % 2 == 0 || h % head_dim) fail("'" + p + "': bad relative embedding shape");
      a.window = int(rk.dims[1] / 2);
      a.n_heads = h / head_dim;
      a.emb_rel_k = rk.f32;
      a.emb_rel_v = rv.f32;
      e.attn.push_back(std::move(a));
      const std::string s = std::to_string(i);
      e.norm1.push_back(norm("enc_p.encoder.norm_layers_1." + s, h));
      e.norm2.push_back(norm("enc_p.encoder.norm_layers_2." + s, h));
      Ffn f;
      f.conv1 = conv("enc_p.encoder.ffn_layers." + s + ".conv_1");
      f.conv2 = conv("enc_p.encoder.ffn_layers." + s + ".conv_2");
      // VITS' FFN pads with F.pad (a separate Pad node) before a pad-0 Conv.
      for (Conv1d* c : {&f.conv1, &f.conv2}) {
        if (c->pad == 0 && c->k % 2 == 1) c->pad = (c->k - 1) / 2;
      }
      check_conv(f.conv1, h, -1, "ffn conv_1");
      check_conv(f.conv2, f.conv1.cout, h, "ffn conv_2");
      e.ffn.push_back(std::move(f));
    }
    e.proj = conv("enc_p.proj");
    check_conv(e.proj, h, -1, "enc_p.proj");
    if (e.proj.cout % 2) fail("'enc_p.proj' has an odd number of outputs");
    e.inter = e.proj.cout / 2;

    // ---- speakers
    if (const onnx::Tensor* g = find("emb_g.weight")) {
      need("emb_g.weight", {-1, -1});
      m.num_speakers_ = int(g->dims[0]);
      m.gin_ = int(g->dims[1]);
      m.emb_g_ = g->f32;
    }

    // ---- duration predictor
    DurationPredictor& dp = m.dp_;
    dp.pre = conv("dp.pre");
    check_conv(dp.pre, h, -1, "dp.pre");
    const int f = dp.pre.cout;
    dp.convs = dds("dp.convs", f);
    dp.proj = conv("dp.proj");
    check_conv(dp.proj, f, f, "dp.proj");
    if (m.gin_) {
      dp.cond = conv("dp.cond");
      check_conv(dp.cond, m.gin_, f, "dp.cond");
    }
    dp.affine_m = need("dp.flows.0.m", {2, 1}).f32;
    if (has("dp.flows.0.exp_arg")) {
      dp.affine_exp_arg = need("dp.flows.0.exp_arg", {2, 1}).f32;
    } else {
      dp.affine_exp_arg = need("dp.flows.0.logs", {2, 1}).f32;
      for (float& v : dp.affine_exp_arg) v = -v;
    }
    for (int i = 16; i >= 2; --i) {  // ConvFlows 3, 5, 7, ... (flows.1 is unused in reverse)
      const std::string p = "dp.flows." + std::to_string(i);
      if (!has(p + ".pre.weight")) continue;
      ConvFlow cf;
      cf.pre = conv(p + ".pre");
      check_conv(cf.pre, 1, f, p + ".pre");
      cf.convs = dds(p + ".convs", f);
      cf.proj = conv(p + ".proj");
      check_conv(cf.proj, f, 3 * cf.num_bins - 1, p + ".proj");
      cf.filter = f;
      dp.flows.push_back(std::move(cf));
    }
    if (dp.flows.empty()) fail("missing weight 'dp.flows.3.pre.weight'");

    // ---- flow
    for (int i = 0; has("flow.flows." + std::to_string(i) + ".pre.weight"); i += 2) {
      const std::string p = "flow.flows." + std::to_string(i);
      CouplingLayer c;
      c.pre = conv(p + ".pre");
      check_conv(c.pre, e.inter / 2, -1, p + ".pre");
      c.post = conv(p + ".post");
      check_conv(c.post, c.pre.cout, e.inter / 2, p + ".post");
      WaveNet& wn = c.wn;
      wn.hidden = c.pre.cout;
      const int wl = count(p + ".enc.in_layers.", ".weight");
      if (wl == 0) fail("missing weight '" + p + ".enc.in_layers.0.weight'");
      for (int j = 0; j < wl; ++j) {
        const std::string s = std::to_string(j);
        wn.in_layers.push_back(conv(p + ".enc.in_layers." + s));
        check_conv(wn.in_layers.back(), wn.hidden, 2 * wn.hidden, p + ".enc.in_layers." + s);
        wn.res_skip.push_back(conv(p + ".enc.res_skip_layers." + s));
        check_conv(wn.res_skip.back(), wn.hidden, j + 1 < wl ? 2 * wn.hidden : wn.hidden,
                   p + ".enc.res_skip_layers." + s);
      }
      if (m.gin_) {
        wn.cond = conv(p + ".enc.cond_layer");
        check_conv(wn.cond, m.gin_, 2 * wn.hidden * wl, p + ".enc.cond_layer");
      }
      m.flow_.push_back(std::move(c));
    }
    if (m.flow_.empty()) fail("missing weight 'flow.flows.0.pre.weight'");
    if (e.inter % 2) fail("odd inter_channels");

    // ---- decoder
    Decoder& d = m.dec_;
    d.conv_pre = conv("dec.conv_pre");
    check_conv(d.conv_pre, e.inter, -1, "dec.conv_pre");
    if (m.gin_) {
      d.cond = conv("dec.cond");
      check_conv(d.cond, m.gin_, d.conv_pre.cout, "dec.cond");
    }
    const int ups = count("dec.ups.", ".weight");
    const int rbs = count("dec.resblocks.", ".convs.0.weight") +
                    count("dec.resblocks.", ".convs1.0.weight");
    if (ups == 0 || rbs == 0 || rbs % ups) fail("missing or uneven decoder upsamplers/resblocks");
    d.kernels_per_up = rbs / ups;
    int ch = d.conv_pre.cout;
    for (int i = 0; i < ups; ++i) {
      d.ups.push_back(conv_t("dec.ups." + std::to_string(i)));
      const ConvTranspose1d& u = d.ups.back();
      if (u.cin != ch || u.k - 2 * u.pad != u.stride) {
        fail("'dec.ups." + std::to_string(i) + "' does not upsample by its stride");
      }
      ch = u.cout;
      for (int j = 0; j < d.kernels_per_up; ++j) {
        const std::string p = "dec.resblocks." + std::to_string(i * d.kernels_per_up + j);
        ResBlock rb;
        const bool type1 = has(p + ".convs1.0.weight");
        const std::string first = type1 ? ".convs1." : ".convs.";
        const int n = count(p + first, ".weight");
        for (int k = 0; k < n; ++k) {
          rb.convs.push_back(conv(p + first + std::to_string(k)));
          check_conv(rb.convs.back(), ch, ch, p + first + std::to_string(k));
          if (type1) {
            rb.convs2.push_back(conv(p + ".convs2." + std::to_string(k)));
            check_conv(rb.convs2.back(), ch, ch, p + ".convs2." + std::to_string(k));
          }
        }
        d.resblocks.push_back(std::move(rb));
      }
    }
    d.conv_post = conv("dec.conv_post", /*bias=*/false);
    check_conv(d.conv_post, ch, 1, "dec.conv_post");
    m.prepare();
    return m;
  }

 private:
  static std::string module_path(const std::string& node_name) {
    if (node_name.size() < 2 || node_name[0] != '/') return {};
    const size_t last = node_name.rfind('/');
    if (last == 0) return {};
    std::string p = node_name.substr(1, last - 1);
    std::replace(p.begin(), p.end(), '/', '.');
    return p;
  }

  std::string source_;
  std::map<std::string, const onnx::Tensor*> tensors_;  // initializers and Identity aliases
  std::map<std::string, const onnx::Tensor*> named_;    // module-path names from nodes
  std::map<std::string, const onnx::Node*> conv_nodes_;
};

VitsModel VitsModel::from_onnx(const onnx::Model& model, const std::string& source) {
  return VitsLoader(model, source).build();
}

VitsModel VitsModel::load(const std::string& onnx_path) {
  return from_onnx(onnx::load_model(onnx_path), onnx_path);
}

int VitsModel::hop_length() const {
  int hop = 1;
  for (const auto& u : dec_.ups) hop *= u.stride;
  return hop;
}

}  // namespace omni::tts
