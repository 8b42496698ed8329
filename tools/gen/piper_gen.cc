#include "piper_gen.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "rng.h"

namespace omni::gen {
namespace {

// Protobuf wire format, just enough to walk and re-emit ONNX messages. Unknown fields are
// copied byte for byte.
struct Field {
  uint32_t num = 0;
  int wire = 0;
  uint64_t value = 0;      // varint / fixed payload
  std::string_view bytes;  // length-delimited payload
  std::string_view whole;  // key + payload, for verbatim copies
};

uint64_t get_varint(std::string_view b, size_t* pos, const std::string& where) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= b.size()) throw FormatError(where + ": truncated varint");
    const uint8_t c = uint8_t(b[(*pos)++]);
    v |= uint64_t(c & 0x7f) << shift;
    if (c < 0x80) return v;
  }
  throw FormatError(where + ": varint too long");
}

std::vector<Field> fields(std::string_view b, const std::string& where) {
  std::vector<Field> out;
  size_t pos = 0;
  while (pos < b.size()) {
    const size_t start = pos;
    const uint64_t key = get_varint(b, &pos, where);
    Field f;
    f.num = uint32_t(key >> 3);
    f.wire = int(key & 7);
    switch (f.wire) {
      case 0: f.value = get_varint(b, &pos, where); break;
      case 1:
      case 5: {
        const size_t n = f.wire == 1 ? 8 : 4;
        if (b.size() - pos < n) throw FormatError(where + ": truncated fixed field");
        std::memcpy(&f.value, b.data() + pos, n);
        pos += n;
        break;
      }
      case 2: {
        const uint64_t len = get_varint(b, &pos, where);
        if (len > b.size() - pos) throw FormatError(where + ": field length past the end");
        f.bytes = b.substr(pos, len);
        pos += len;
        break;
      }
      default: throw FormatError(where + ": unsupported wire type " + std::to_string(f.wire));
    }
    f.whole = b.substr(start, pos - start);
    out.push_back(f);
  }
  return out;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void put_bytes(std::string& out, uint32_t num, std::string_view bytes) {
  put_varint(out, uint64_t(num) << 3 | 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}
void put_int(std::string& out, uint32_t num, uint64_t v) {
  put_varint(out, uint64_t(num) << 3);
  put_varint(out, v);
}

// ONNX field numbers used here.
constexpr uint32_t kModelGraph = 7;
constexpr uint32_t kGraphNode = 1, kGraphInit = 5;
constexpr uint32_t kNodeOutput = 2, kNodeOpType = 4, kNodeAttr = 5;
constexpr uint32_t kAttrName = 1, kAttrI = 3, kAttrT = 5;
constexpr uint32_t kTensorDims = 1, kTensorType = 2, kTensorName = 8, kTensorRaw = 9;
constexpr int kFloat = 1, kInt64 = 7;

std::vector<int64_t> tensor_dims(const std::vector<Field>& t) {
  std::vector<int64_t> dims;
  for (const Field& f : t) {
    if (f.num != kTensorDims) continue;
    if (f.wire == 0) {
      dims.push_back(int64_t(f.value));
    } else if (f.wire == 2) {  // packed
      size_t pos = 0;
      while (pos < f.bytes.size()) dims.push_back(int64_t(get_varint(f.bytes, &pos, "dims")));
    }
  }
  return dims;
}

std::string field_string(const std::vector<Field>& fs, uint32_t num) {
  for (const Field& f : fs)
    if (f.num == num && f.wire == 2) return std::string(f.bytes);
  return {};
}

struct Widths {
  int64_t hidden, filter, decoder;
};

class Resizer {
 public:
  Resizer(const Widths& from, const PiperShape& to, uint64_t seed)
      : from_(from), to_(to), seed_(seed) {
    if (to.hidden % from.hidden || to.filter % from.filter || to.decoder % from.decoder ||
        to.hidden <= 0 || to.filter <= 0 || to.decoder <= 0)
      throw Error("piper: widths must be positive multiples of the template's (hidden " +
                  std::to_string(from.hidden) + ", filter " + std::to_string(from.filter) +
                  ", decoder " + std::to_string(from.decoder) + ")");
    hs_ = to.hidden / from.hidden;
    fs_ = to.filter / from.filter;
    ds_ = to.decoder / from.decoder;
  }

  // New shape of an initializer; the decoder's widths follow the decoder scale, everything
  // else the hidden scale (the encoder FFN width its own).
  std::vector<int64_t> resize(const std::string& name, std::vector<int64_t> dims) const {
    const bool dec = name.starts_with("dec.");
    const bool ffn = name.find("ffn_layers") != std::string::npos;
    for (size_t i = 0; i < dims.size(); ++i) {
      int64_t& d = dims[i];
      if (dec) {
        if (dims.size() == 3 && i == 2) continue;  // kernel size
        if (name == "dec.conv_pre.weight" && i == 1) {
          d *= hs_;  // input = inter channels
        } else if (d == from_.decoder || d == from_.decoder / 2 || d == from_.decoder / 4 ||
                   d == from_.decoder / 8) {
          d *= ds_;
        }
      } else if (ffn && d == from_.filter) {
        d *= fs_;
      } else if (d == from_.hidden || d == from_.hidden / 2 || d == 2 * from_.hidden) {
        d *= hs_;
      }
    }
    return dims;
  }

  std::string initializer(std::string_view bytes, uint64_t index) const {
    const std::vector<Field> t = fields(bytes, "initializer");
    const std::string name = field_string(t, kTensorName);
    const std::vector<int64_t> dims = tensor_dims(t);
    const std::vector<int64_t> nd = resize(name, dims);
    if (nd == dims) return std::string(bytes);  // no channel dimension: keep its values
    int type = 0;
    for (const Field& f : t)
      if (f.num == kTensorType) type = int(f.value);
    if (type != kFloat) throw FormatError("piper template: initializer " + name + " is not float");
    uint64_t n = 1;
    for (int64_t d : nd) n *= uint64_t(d);
    std::vector<float> v(n);
    fill(name, nd, v, index);
    std::string out;
    for (int64_t d : nd) put_int(out, kTensorDims, uint64_t(d));
    put_int(out, kTensorType, kFloat);
    put_bytes(out, kTensorName, name);
    put_bytes(out, kTensorRaw,
              std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return out;
  }

  std::string node(std::string_view bytes) const {
    const std::vector<Field> nf = fields(bytes, "node");
    const std::string op = field_string(nf, kNodeOpType);
    const std::string out0 = field_string(nf, kNodeOutput);
    if (out0.starts_with("/dec/")) return std::string(bytes);
    std::string out;
    for (const Field& f : nf) {
      if (f.num != kNodeAttr || f.wire != 2) {
        out.append(f.whole);
        continue;
      }
      put_bytes(out, kNodeAttr, attribute(f.bytes, op, out0));
    }
    return out;
  }

 private:
  std::string attribute(std::string_view bytes, const std::string& op,
                        const std::string& out0) const {
    const std::vector<Field> af = fields(bytes, "attribute");
    const std::string name = field_string(af, kAttrName);
    std::string out;
    for (const Field& f : af) {
      if (op == "Conv" && name == "group" && f.num == kAttrI && int64_t(f.value) == from_.hidden) {
        put_int(out, kAttrI, uint64_t(to_.hidden));  // depthwise convs of the duration predictor
      } else if ((op == "Constant" || op == "ConstantOfShape") && f.num == kAttrT && f.wire == 2) {
        put_bytes(out, kAttrT, constant(f.bytes, out0));
      } else {
        out.append(f.whole);
      }
    }
    return out;
  }

  // Shape constants: int64 values equal to hidden or hidden/2 (flow split sizes, WaveNet slice
  // bounds, attention head size); float sqrt(hidden) (embedding scale, spline width scale) and
  // sqrt(head size) (attention scores).
  std::string constant(std::string_view bytes, const std::string& out0) const {
    const std::vector<Field> tf = fields(bytes, "constant");
    int type = 0;
    for (const Field& f : tf)
      if (f.num == kTensorType) type = int(f.value);
    std::string out;
    for (const Field& f : tf) {
      if (f.num != kTensorRaw || f.wire != 2) {
        out.append(f.whole);
        continue;
      }
      std::string raw(f.bytes);
      if (type == kInt64 && raw.size() % 8 == 0) {
        for (size_t i = 0; i < raw.size(); i += 8) {
          int64_t v;
          std::memcpy(&v, raw.data() + i, 8);
          if (v == from_.hidden || v == from_.hidden / 2) v *= hs_;
          std::memcpy(raw.data() + i, &v, 8);
        }
      } else if (type == kFloat && raw.size() == 4) {
        float v;
        std::memcpy(&v, raw.data(), 4);
        const bool attn = out0.find("/attn_layers.") != std::string::npos;
        if (v == std::sqrt(float(from_.hidden))) {
          v = std::sqrt(float(to_.hidden));
        } else if (attn && v == std::sqrt(float(from_.hidden / 2))) {
          v = std::sqrt(float(to_.hidden / 2));
        }
        std::memcpy(raw.data(), &v, 4);
      }
      put_bytes(out, kTensorRaw, raw);
    }
    return out;
  }

  // Torch's default init (uniform +-1/sqrt(fan_in)) for convs, Piper's N(0, 0.01) for the
  // decoder's upsamplers and residual blocks, VITS's embedding inits, LayerNorm 1/0; the
  // output conv x10 as in the refdata generator so audio reaches tanh's curved range.
  void fill(const std::string& name, const std::vector<int64_t>& dims, std::vector<float>& v,
            uint64_t index) const {
    Rng rng(seed_, index, 0);
    const auto ends = [&](std::string_view s) { return name.ends_with(s); };
    if (ends("gamma")) {
      std::fill(v.begin(), v.end(), 1.f);
      return;
    }
    if (ends("beta")) {
      std::fill(v.begin(), v.end(), 0.f);
      return;
    }
    if (name == "sid" || name.find("emb_rel") != std::string::npos) {
      const double sd = 1.0 / std::sqrt(double(dims.back()));
      for (float& x : v) x = float(rng.normal() * sd);
      return;
    }
    const bool dec_init = name.starts_with("dec.ups.") || name.starts_with("dec.resblocks.");
    if (dec_init && ends("weight")) {
      for (float& x : v) x = float(rng.normal() * 0.01);
      return;
    }
    int64_t fan_in = to_.hidden;
    if (dims.size() >= 2) {
      fan_in = 1;
      for (size_t i = 1; i < dims.size(); ++i) fan_in *= dims[i];
    }
    const double bound = 1.0 / std::sqrt(double(fan_in));
    const double mul = name == "dec.conv_post.weight" ? 10.0 : 1.0;
    for (float& x : v) x = float((rng.uniform() * 2 - 1) * bound * mul);
  }

  Widths from_;
  PiperShape to_;
  uint64_t seed_;
  int64_t hs_ = 1, fs_ = 1, ds_ = 1;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error("cannot open " + path);
  std::string bytes(size_t(in.tellg()), '\0');
  in.seekg(0);
  in.read(bytes.data(), std::streamsize(bytes.size()));
  if (!in) throw Error("cannot read " + path);
  return bytes;
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw Error("cannot write " + path);
}

Widths template_widths(const std::vector<Field>& graph, const std::string& path) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const Field& f : graph) {
    if (f.num != kGraphInit || f.wire != 2) continue;
    const std::vector<Field> t = fields(f.bytes, path + ": initializer");
    shapes[field_string(t, kTensorName)] = tensor_dims(t);
  }
  const auto dim = [&](const char* name, size_t i) {
    auto it = shapes.find(name);
    if (it == shapes.end() || it->second.size() <= i)
      throw FormatError(path + ": not a single-speaker Piper voice (no " + name + ")");
    return it->second[i];
  };
  if (shapes.count("emb_g.weight"))
    throw FormatError(path + ": multi-speaker templates are not supported");
  return {dim("enc_p.proj.weight", 1), dim("enc_p.encoder.ffn_layers.0.conv_1.weight", 0),
          dim("dec.conv_pre.weight", 0)};
}

// The config is Piper's; only our own "omni_random_model" record of the widths changes.
std::string resize_config(std::string json, const PiperShape& s) {
  const auto set = [&](const std::string& key, int v) {
    const std::string k = "\"" + key + "\":";
    for (size_t at = json.find(k); at != std::string::npos; at = json.find(k, at + 1)) {
      size_t b = at + k.size();
      while (b < json.size() && json[b] == ' ') ++b;
      size_t e = b;
      while (e < json.size() && json[e] >= '0' && json[e] <= '9') ++e;
      if (e > b) json.replace(b, e - b, std::to_string(v));
    }
  };
  set("hidden_channels", s.hidden);
  set("inter_channels", s.hidden);
  set("filter_channels", s.filter);
  set("upsample_initial_channel", s.decoder);
  return json;
}

}  // namespace

void generate_piper(const PiperShape& shape, const PiperGenOptions& opts, const std::string& path) {
  const std::string model = read_all(opts.from);
  const std::vector<Field> mf = fields(model, opts.from);
  std::string out;
  for (const Field& f : mf) {
    if (f.num != kModelGraph || f.wire != 2) {
      out.append(f.whole);
      continue;
    }
    const std::vector<Field> gf = fields(f.bytes, opts.from + ": graph");
    const Resizer rs(template_widths(gf, opts.from), shape, opts.seed);
    std::string graph;
    uint64_t index = 0;
    for (const Field& g : gf) {
      if (g.num == kGraphInit && g.wire == 2) {
        put_bytes(graph, kGraphInit, rs.initializer(g.bytes, index++));
      } else if (g.num == kGraphNode && g.wire == 2) {
        put_bytes(graph, kGraphNode, rs.node(g.bytes));
      } else {
        graph.append(g.whole);
      }
    }
    put_bytes(out, kModelGraph, graph);
  }
  write_all(path, out);
  write_all(path + ".json", resize_config(read_all(opts.from + ".json"), shape));
}

}  // namespace omni::gen
