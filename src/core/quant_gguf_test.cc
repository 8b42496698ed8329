// Conformance with llama.cpp: the refdata Q8_0 / Q4_0 models are llama-quantize outputs of the
// F32 model. Quantizing each F32 matrix with our reference quantizers must give llama.cpp's
// blocks byte for byte.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/gguf.h"
#include "core/quant.h"
#include "testing/refdata.h"

namespace omni {
namespace {

void check_llama_quantize_output(const std::string& quantized, DType want_type) {
  const auto f32 = gguf::File::open(testing::refdata("llm/models/tiny-llama-rand-f32.gguf"));
  const auto q = gguf::File::open(testing::refdata(quantized));
  ASSERT_EQ(q.tensors().size(), f32.tensors().size());
  int n_quantized = 0, n_f32 = 0;
  for (const auto& qt : q.tensors()) {
    SCOPED_TRACE(qt.name);
    const gguf::TensorInfo* src = f32.tensor(qt.name);
    ASSERT_NE(src, nullptr);
    ASSERT_EQ(src->type, DType::F32);
    ASSERT_EQ(src->shape, qt.shape);
    if (qt.type == DType::F32) {  // norm vectors are copied unchanged
      ++n_f32;
      EXPECT_EQ(qt.shape.size(), 1u);
      ASSERT_EQ(qt.n_bytes, src->n_bytes);
      EXPECT_EQ(0, std::memcmp(qt.data, src->data, qt.n_bytes));
      continue;
    }
    ASSERT_EQ(qt.type, want_type);
    ++n_quantized;
    const auto row_len = static_cast<int64_t>(qt.shape[0]);
    const auto rows = static_cast<int64_t>(qt.rows());
    std::vector<float> x(static_cast<size_t>(rows * row_len));
    ASSERT_EQ(src->n_bytes, x.size() * sizeof(float));
    std::memcpy(x.data(), src->data, src->n_bytes);

    std::vector<uint8_t> ours(qt.n_bytes);
    ASSERT_EQ(quantize_tensor(want_type, x.data(), ours.data(), rows, row_len), qt.n_bytes);
    size_t first_diff = ours.size();
    for (size_t i = 0; i < ours.size(); ++i) {
      if (ours[i] != qt.data[i]) {
        first_diff = i;
        break;
      }
    }
    EXPECT_EQ(first_diff, ours.size()) << "first differing byte (block "
                                       << first_diff / dtype_info(want_type).type_size << ")";

    // Their blocks and ours dequantize to the same floats, close to the originals.
    const std::vector<float> theirs_f = to_f32(want_type, qt.bytes(), rows, row_len);
    const std::vector<float> ours_f = to_f32(want_type, ours, rows, row_len);
    ASSERT_EQ(theirs_f.size(), x.size());
    float max_err = 0, max_abs = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(theirs_f[i]), std::bit_cast<uint32_t>(ours_f[i])) << i;
      max_err = std::max(max_err, std::fabs(theirs_f[i] - x[i]));
      max_abs = std::max(max_abs, std::fabs(x[i]));
    }
    // Weights are N(0, 0.02): a Q8_0 step is amax/127, a Q4_0 step amax/8 (one step at most).
    EXPECT_LE(max_err, max_abs * (want_type == DType::Q8_0 ? 0.5f / 127 + 1e-3f : 1.f / 8 + 1e-3f));
  }
  EXPECT_EQ(n_quantized, 16);  // 2 layers x 7 matrices + token_embd + output
  EXPECT_EQ(n_f32, 5);         // 2 x (attn_norm, ffn_norm) + output_norm
}

TEST(QuantConformance, LlamaQuantizeQ8_0ByteForByte) {
  check_llama_quantize_output("llm/models/tiny-llama-rand-q8_0.gguf", DType::Q8_0);
}

TEST(QuantConformance, LlamaQuantizeQ4_0ByteForByte) {
  check_llama_quantize_output("llm/models/tiny-llama-rand-q4_0.gguf", DType::Q4_0);
}

}  // namespace
}  // namespace omni
