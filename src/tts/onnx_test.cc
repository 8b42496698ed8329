#include "tts/onnx.h"

#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "testing/refdata.h"
#include "tts/vits.h"

namespace omni::tts::onnx {
namespace {

// Minimal protobuf writer for hand-made hostile inputs.
struct Pb {
  std::string b;
  Pb& varint(uint64_t v) {
    while (v >= 0x80) {
      b.push_back(char(v | 0x80));
      v >>= 7;
    }
    b.push_back(char(v));
    return *this;
  }
  Pb& key(uint32_t field, int wire) { return varint((uint64_t(field) << 3) | wire); }
  Pb& bytes(uint32_t field, const std::string& s) {
    key(field, 2).varint(s.size());
    b += s;
    return *this;
  }
  Pb& num(uint32_t field, uint64_t v) { return key(field, 0).varint(v); }
};

std::span<const uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string model_with_tensor(const std::string& tensor) {
  const std::string graph = Pb().bytes(5, tensor).b;
  return Pb().num(1, 8).bytes(7, graph).b;
}

TEST(Onnx, ReadsTinyVoice) {
  const Model m = load_model(omni::testing::refdata("tts/models/tiny.onnx"));
  EXPECT_EQ(m.ir_version, 8);
  EXPECT_EQ(m.opset_version, 15);
  EXPECT_EQ(m.producer_name, "pytorch");
  EXPECT_EQ(m.graph.inputs, (std::vector<std::string>{"input", "input_lengths", "scales"}));
  EXPECT_EQ(m.graph.outputs, std::vector<std::string>{"output"});
  EXPECT_EQ(m.graph.initializers.size(), 280u);
  int64_t params = 0;
  for (const Tensor& t : m.graph.initializers) {
    if (t.data_type == kFloat) params += t.numel();
  }
  EXPECT_EQ(params, 427003);  // README: parameters in ONNX
  bool found = false;
  for (const Node& n : m.graph.nodes) {
    if (n.name == "/dec/ups.0/ConvTranspose") {
      found = true;
      ASSERT_NE(n.attribute("strides"), nullptr);
      EXPECT_EQ(n.attribute("strides")->ints, std::vector<int64_t>{8});
      EXPECT_EQ(n.attribute("pads")->ints, (std::vector<int64_t>{4, 4}));
    }
  }
  EXPECT_TRUE(found);
}

TEST(Onnx, HostileBytes) {
  auto expect_format_error = [](const std::string& bytes, const char* what) {
    try {
      parse_model(span_of(bytes), "x.onnx");
      ADD_FAILURE() << "no error for " << what;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("x.onnx"), std::string::npos) << e.what();
    }
  };
  expect_format_error("", "empty file (no graph)");
  expect_format_error(Pb().num(1, 8).b, "no graph");
  expect_format_error(std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),
                      "varint too long");
  expect_format_error(std::string("\x08", 1), "truncated varint");
  expect_format_error(Pb().key(7, 2).varint(1000).b + "abc", "length past end");
  expect_format_error(Pb().key(7, 3).b, "group wire type");
  // Tensor whose dims promise more data than present.
  Pb dims;
  dims.num(1, 1000000).num(1, 1000000).num(2, kFloat).bytes(8, "w").bytes(9, "abcd");
  expect_format_error(model_with_tensor(dims.b), "raw size mismatch");
  Pb huge;
  huge.num(1, uint64_t(1) << 62).num(1, 16).num(2, kFloat).bytes(8, "w").bytes(9, "");
  expect_format_error(model_with_tensor(huge.b), "dims overflow");
  Pb neg;
  neg.num(1, uint64_t(-5)).num(2, kFloat).bytes(8, "w");
  expect_format_error(model_with_tensor(neg.b), "negative dim");
  Pb ext;
  ext.num(1, 2).num(2, kFloat).bytes(8, "w").num(14, 1);
  expect_format_error(model_with_tensor(ext.b), "external data");
  Pb fd;
  fd.num(1, 3).num(2, kFloat).bytes(8, "w").bytes(4, std::string(8, '\0'));
  expect_format_error(model_with_tensor(fd.b), "float_data count");
  // A well-formed small tensor parses.
  Pb ok;
  ok.num(1, 2).num(2, kFloat).bytes(8, "w").bytes(4, std::string(8, '\0'));
  const Model m = parse_model(span_of(model_with_tensor(ok.b)), "x.onnx");
  ASSERT_EQ(m.graph.initializers.size(), 1u);
  EXPECT_EQ(m.graph.initializers[0].f32, (std::vector<float>{0.f, 0.f}));
}

TEST(Onnx, TruncatedAndCorruptedVoices) {
  const auto bytes = omni::testing::read_file(omni::testing::refdata("tts/models/tiny.onnx"));
  const std::string src(bytes.begin(), bytes.end());
  // Every truncation either fails to parse or is not a voice we understand.
  for (size_t cut : {size_t(0), size_t(1), size_t(10), size_t(100), size_t(1000), size_t(50000),
                     src.size() / 2, src.size() - 1000, src.size() - 1}) {
    const std::string part = src.substr(0, cut);
    EXPECT_THROW(VitsModel::from_onnx(parse_model(span_of(part), "t.onnx"), "t.onnx"),
                 FormatError)
        << cut;
  }
  // Random byte corruptions: an error or a model, never a crash (run under ASan).
  std::mt19937 rng(1);
  for (int i = 0; i < 30; ++i) {
    std::string c = src;
    for (int k = 0; k < 4; ++k) c[rng() % c.size()] = char(rng());
    try {
      VitsModel::from_onnx(parse_model(span_of(c), "c.onnx"), "c.onnx");
    } catch (const Error&) {
    }
  }
}

TEST(Onnx, MissingWeightIsNamed) {
  Model m = load_model(omni::testing::refdata("tts/models/tiny.onnx"));
  for (Tensor& t : m.graph.initializers) {
    if (t.name == "dp.flows.5.proj.weight") t.name = "renamed";
  }
  try {
    tts::VitsModel::from_onnx(m, "v.onnx");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("dp.flows.5.proj.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace omni::tts::onnx
