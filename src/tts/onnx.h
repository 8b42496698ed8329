// A small, strict reader of ONNX model files (protobuf wire format) covering what a Piper voice
// needs: the graph's initializers (float / int64 tensors), nodes (op type, inputs, outputs,
// scalar and list attributes) and graph input/output names. Every length, count and offset is
// checked against the bytes, so hostile files give omni::FormatError naming the field and the
// byte offset, never an out-of-bounds read or an allocation sized by an unchecked field.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace omni::tts::onnx {

// TensorProto.DataType values we read (others are kept as type only, with no data).
inline constexpr int32_t kFloat = 1;
inline constexpr int32_t kInt32 = 6;
inline constexpr int32_t kInt64 = 7;

struct Tensor {
  std::string name;
  std::vector<int64_t> dims;
  int32_t data_type = 0;
  std::vector<float> f32;    // data_type kFloat
  std::vector<int64_t> i64;  // data_type kInt64 or kInt32 (widened)
  int64_t numel() const;     // product of dims (validated on parse)
};

struct Attribute {
  std::string name;
  int32_t type = 0;  // AttributeProto.AttributeType
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<int64_t> ints;
};

struct Node {
  std::string name;
  std::string op_type;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;
  const Attribute* attribute(const std::string& attr_name) const;  // null if absent
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<std::string> inputs;   // graph input names
  std::vector<std::string> outputs;  // graph output names
};

struct Model {
  int64_t ir_version = 0;
  std::string producer_name;
  std::string producer_version;
  int64_t opset_version = 0;  // of the default ("" / "ai.onnx") domain
  Graph graph;
};

// Parses a whole ModelProto. `source` names the file in error messages.
Model parse_model(std::span<const uint8_t> bytes, const std::string& source);
Model load_model(const std::string& path);

}  // namespace omni::tts::onnx
