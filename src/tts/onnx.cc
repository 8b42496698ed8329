#include "tts/onnx.h"

#include <cstring>
#include <limits>

#include "core/error.h"
#include "tts/file.h"

namespace omni::tts::onnx {
namespace {

// Protobuf wire types.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLengthDelimited = 2;
constexpr int kFixed32 = 5;

// Limits that keep a hostile file from making us build absurd structures; real voices are far
// below them (a medium voice has ~6k nodes, ~300 initializers, rank <= 4).
constexpr size_t kMaxDims = 16;
constexpr size_t kMaxAttrValues = 1 << 20;

class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, size_t base, const std::string* source)
      : data_(bytes), base_(base), source_(source) {}

  bool done() const { return pos_ >= data_.size(); }
  size_t offset() const { return base_ + pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(*source_ + ": " + what + " at byte " + std::to_string(offset()));
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("truncated varint");
      const uint8_t b = data_[pos_++];
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }

  // Reads a field key; returns false at the end.
  bool key(uint32_t* field, int* wire) {
    if (done()) return false;
    const uint64_t k = varint();
    *field = uint32_t(k >> 3);
    *wire = int(k & 7);
    if (*field == 0) fail("field number 0");
    return true;
  }

  Reader sub() {
    const uint64_t len = varint();
    if (len > data_.size() - pos_) fail("length " + std::to_string(len) + " past end of message");
    Reader r(data_.subspan(pos_, size_t(len)), base_ + pos_, source_);
    pos_ += size_t(len);
    return r;
  }

  std::span<const uint8_t> bytes() {
    Reader r = sub();
    return r.data_;
  }

  std::string string() {
    const auto b = bytes();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }

  uint32_t fixed32() {
    if (data_.size() - pos_ < 4) fail("truncated fixed32");
    uint32_t v;
    std::memcpy(&v, data_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }

  float f32() {
    const uint32_t u = fixed32();
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }

  void skip(int wire) {
    switch (wire) {
      case kVarint:
        varint();
        break;
      case kFixed64:
        if (data_.size() - pos_ < 8) fail("truncated fixed64");
        pos_ += 8;
        break;
      case kLengthDelimited:
        sub();
        break;
      case kFixed32:
        fixed32();
        break;
      default:
        fail("unsupported wire type " + std::to_string(wire));
    }
  }

  void expect(int wire, int want, const char* field) {
    if (wire != want)
      fail(std::string("field ") + field + " has wire type " + std::to_string(wire));
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  size_t base_;
  const std::string* source_;
};

int64_t as_int64(uint64_t v) { return static_cast<int64_t>(v); }

// Repeated int64 field: packed (length-delimited) or one varint per key.
void read_int64s(Reader& r, int wire, std::vector<int64_t>* out, size_t limit, const char* what) {
  if (wire == kLengthDelimited) {
    Reader p = r.sub();
    while (!p.done()) {
      if (out->size() >= limit) p.fail(std::string("too many ") + what);
      out->push_back(as_int64(p.varint()));
    }
  } else {
    r.expect(wire, kVarint, what);
    if (out->size() >= limit) r.fail(std::string("too many ") + what);
    out->push_back(as_int64(r.varint()));
  }
}

void read_floats(Reader& r, int wire, std::vector<float>* out, size_t limit, const char* what) {
  if (wire == kLengthDelimited) {
    Reader p = r.sub();
    while (!p.done()) {
      if (out->size() >= limit) p.fail(std::string("too many ") + what);
      out->push_back(p.f32());
    }
  } else {
    r.expect(wire, kFixed32, what);
    if (out->size() >= limit) r.fail(std::string("too many ") + what);
    out->push_back(r.f32());
  }
}

Tensor read_tensor(Reader r) {
  Tensor t;
  const size_t start = r.offset();
  std::span<const uint8_t> raw;
  bool has_raw = false;
  std::vector<float> float_data;
  std::vector<int64_t> int_data;
  bool external = false;
  uint32_t field;
  int wire;
  while (r.key(&field, &wire)) {
    switch (field) {
      case 1:
        read_int64s(r, wire, &t.dims, kMaxDims, "tensor dims");
        break;
      case 2:
        r.expect(wire, kVarint, "data_type");
        t.data_type = int32_t(r.varint());
        break;
      case 4:
        read_floats(r, wire, &float_data, std::numeric_limits<size_t>::max(), "float_data");
        break;
      case 5:  // int32_data (varints)
      case 7:  // int64_data
        read_int64s(r, wire, &int_data, std::numeric_limits<size_t>::max(), "int data");
        break;
      case 8:
        r.expect(wire, kLengthDelimited, "name");
        t.name = r.string();
        break;
      case 9:
        r.expect(wire, kLengthDelimited, "raw_data");
        raw = r.bytes();
        has_raw = true;
        break;
      case 13:
        external = true;
        r.skip(wire);
        break;
      case 14:
        r.expect(wire, kVarint, "data_location");
        if (r.varint() == 1) external = true;
        break;
      default:
        r.skip(wire);
    }
  }
  const std::string where = "tensor '" + t.name + "' (at byte " + std::to_string(start) + ")";
  if (external) r.fail(where + ": external data is not supported");
  int64_t n = 1;
  for (int64_t d : t.dims) {
    if (d < 0) r.fail(where + ": negative dimension");
    if (d > 0 && n > std::numeric_limits<int64_t>::max() / d) r.fail(where + ": size overflow");
    n *= d;
  }
  // The element count must match the bytes actually present before anything is allocated.
  if (t.data_type == kFloat) {
    if (has_raw) {
      if (uint64_t(n) != raw.size() / 4 || raw.size() % 4)
        r.fail(where + ": raw_data size does not match dims");
      t.f32.resize(size_t(n));
      if (n) std::memcpy(t.f32.data(), raw.data(), raw.size());
    } else {
      if (float_data.size() != uint64_t(n))
        r.fail(where + ": float_data count does not match dims");
      t.f32 = std::move(float_data);
    }
  } else if (t.data_type == kInt64 || t.data_type == kInt32) {
    const uint64_t width = t.data_type == kInt64 ? 8 : 4;
    if (has_raw) {
      if (uint64_t(n) != raw.size() / width || raw.size() % width)
        r.fail(where + ": raw_data size does not match dims");
      t.i64.resize(size_t(n));
      for (size_t i = 0; i < size_t(n); ++i) {
        if (width == 8) {
          std::memcpy(&t.i64[i], raw.data() + i * 8, 8);
        } else {
          int32_t v;
          std::memcpy(&v, raw.data() + i * 4, 4);
          t.i64[i] = v;
        }
      }
    } else {
      if (int_data.size() != uint64_t(n)) r.fail(where + ": int data count does not match dims");
      t.i64 = std::move(int_data);
    }
  }
  return t;
}

Attribute read_attribute(Reader r) {
  Attribute a;
  uint32_t field;
  int wire;
  while (r.key(&field, &wire)) {
    switch (field) {
      case 1:
        r.expect(wire, kLengthDelimited, "attribute name");
        a.name = r.string();
        break;
      case 2:
        r.expect(wire, kFixed32, "attribute f");
        a.f = r.f32();
        break;
      case 3:
        r.expect(wire, kVarint, "attribute i");
        a.i = as_int64(r.varint());
        break;
      case 4:
        r.expect(wire, kLengthDelimited, "attribute s");
        a.s = r.string();
        break;
      case 7:
        read_floats(r, wire, &a.floats, kMaxAttrValues, "attribute floats");
        break;
      case 8:
        read_int64s(r, wire, &a.ints, kMaxAttrValues, "attribute ints");
        break;
      case 20:
        r.expect(wire, kVarint, "attribute type");
        a.type = int32_t(r.varint());
        break;
      default:
        r.skip(wire);  // tensors, graphs, docs: not needed
    }
  }
  return a;
}

Node read_node(Reader r) {
  Node n;
  uint32_t field;
  int wire;
  while (r.key(&field, &wire)) {
    switch (field) {
      case 1:
        r.expect(wire, kLengthDelimited, "node input");
        n.inputs.push_back(r.string());
        break;
      case 2:
        r.expect(wire, kLengthDelimited, "node output");
        n.outputs.push_back(r.string());
        break;
      case 3:
        r.expect(wire, kLengthDelimited, "node name");
        n.name = r.string();
        break;
      case 4:
        r.expect(wire, kLengthDelimited, "op_type");
        n.op_type = r.string();
        break;
      case 5:
        r.expect(wire, kLengthDelimited, "attribute");
        n.attributes.push_back(read_attribute(r.sub()));
        break;
      default:
        r.skip(wire);
    }
  }
  return n;
}

std::string read_value_info_name(Reader r) {
  std::string name;
  uint32_t field;
  int wire;
  while (r.key(&field, &wire)) {
    if (field == 1) {
      r.expect(wire, kLengthDelimited, "value_info name");
      name = r.string();
    } else {
      r.skip(wire);
    }
  }
  return name;
}

Graph read_graph(Reader r) {
  Graph g;
  uint32_t field;
  int wire;
  while (r.key(&field, &wire)) {
    switch (field) {
      case 1:
        r.expect(wire, kLengthDelimited, "node");
        g.nodes.push_back(read_node(r.sub()));
        break;
      case 2:
        r.expect(wire, kLengthDelimited, "graph name");
        g.name = r.string();
        break;
      case 5:
        r.expect(wire, kLengthDelimited, "initializer");
        g.initializers.push_back(read_tensor(r.sub()));
        break;
      case 11:
        r.expect(wire, kLengthDelimited, "graph input");
        g.inputs.push_back(read_value_info_name(r.sub()));
        break;
      case 12:
        r.expect(wire, kLengthDelimited, "graph output");
        g.outputs.push_back(read_value_info_name(r.sub()));
        break;
      default:
        r.skip(wire);
    }
  }
  return g;
}

}  // namespace

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

const Attribute* Node::attribute(const std::string& attr_name) const {
  for (const Attribute& a : attributes) {
    if (a.name == attr_name) return &a;
  }
  return nullptr;
}

Model parse_model(std::span<const uint8_t> bytes, const std::string& source) {
  Reader r(bytes, 0, &source);
  Model m;
  bool has_graph = false;
  uint32_t field;
  int wire;
  while (r.key(&field, &wire)) {
    switch (field) {
      case 1:
        r.expect(wire, kVarint, "ir_version");
        m.ir_version = as_int64(r.varint());
        break;
      case 2:
        r.expect(wire, kLengthDelimited, "producer_name");
        m.producer_name = r.string();
        break;
      case 3:
        r.expect(wire, kLengthDelimited, "producer_version");
        m.producer_version = r.string();
        break;
      case 7:
        r.expect(wire, kLengthDelimited, "graph");
        if (has_graph) r.fail("second graph");
        m.graph = read_graph(r.sub());
        has_graph = true;
        break;
      case 8: {
        r.expect(wire, kLengthDelimited, "opset_import");
        Reader o = r.sub();
        std::string domain;
        int64_t version = 0;
        uint32_t f2;
        int w2;
        while (o.key(&f2, &w2)) {
          if (f2 == 1) {
            o.expect(w2, kLengthDelimited, "opset domain");
            domain = o.string();
          } else if (f2 == 2) {
            o.expect(w2, kVarint, "opset version");
            version = as_int64(o.varint());
          } else {
            o.skip(w2);
          }
        }
        if (domain.empty() || domain == "ai.onnx") m.opset_version = version;
        break;
      }
      default:
        r.skip(wire);
    }
  }
  if (!has_graph) throw FormatError(source + ": not an ONNX model (no graph)");
  return m;
}

Model load_model(const std::string& path) {
  const std::string data = read_whole_file(path);
  return parse_model({reinterpret_cast<const uint8_t*>(data.data()), data.size()}, path);
}

}  // namespace omni::tts::onnx
