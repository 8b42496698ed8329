// Every refdata GGUF, truncated at many lengths and with seeded byte flips: each variant must
// parse or throw FormatError; never crash (ASan runs this too), never another exception. A
// truncated file must be refused unless only trailing padding was cut.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "core/gguf.h"
#include "testing/hostile.h"
#include "testing/refdata.h"

namespace omni::gguf {
namespace {

using omni::testing::byte_flips;
using omni::testing::truncation_points;

enum class Outcome { kOk, kFormatError };

Outcome try_parse(std::span<const uint8_t> bytes, std::string* error = nullptr) {
  try {
    const File f = File::parse(bytes, "hostile.gguf");
    // Everything the parser accepted lies inside the bytes: read the ends of every tensor.
    for (const auto& t : f.tensors()) {
      const auto b = t.bytes();
      if (b.empty()) continue;
      EXPECT_GE(b.data(), bytes.data());
      EXPECT_LE(b.data() + b.size(), bytes.data() + bytes.size());
      volatile uint8_t sink = b.front() ^ b.back();
      (void)sink;
    }
    return Outcome::kOk;
  } catch (const FormatError& e) {
    if (error) *error = e.what();
    return Outcome::kFormatError;
  }
  // Any other exception escapes and fails the test.
}

class GgufHostile : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    bytes_ = omni::testing::read_file(omni::testing::refdata(GetParam()));
    const File f = File::parse(bytes_, GetParam());
    meta_end_ = f.tensors().empty() ? bytes_.size() : f.data_offset();
    data_end_ = f.tensors().empty() ? bytes_.size() : 0;
    for (const auto& t : f.tensors()) {
      data_end_ = std::max(data_end_, f.data_offset() + t.offset + t.n_bytes);
    }
  }
  std::vector<uint8_t> bytes_;
  uint64_t meta_end_ = 0;
  uint64_t data_end_ = 0;
};

TEST_P(GgufHostile, Truncations) {
  const auto points = truncation_points(bytes_.size(), meta_end_);
  ASSERT_GE(points.size(), std::min<size_t>(meta_end_, 4096));
  size_t refused = 0;
  for (uint64_t n : points) {
    std::string error;
    const Outcome o = try_parse(std::span<const uint8_t>(bytes_.data(), n), &error);
    // Only the zero padding after the last tensor may be cut without harm.
    if (n < data_end_) {
      ASSERT_EQ(o, Outcome::kFormatError) << "truncated to " << n << " bytes but parsed";
      ASSERT_NE(error.find("hostile.gguf: "), std::string::npos) << error;
      ASSERT_NE(error.find("(at byte "), std::string::npos) << error;
      ++refused;
    } else {
      ASSERT_EQ(o, Outcome::kOk) << "cut only padding at " << n << ": " << error;
    }
  }
  EXPECT_GT(refused, 0u);
}

TEST_P(GgufHostile, ByteFlips) {
  const auto flips = byte_flips(bytes_.size(), meta_end_);
  ASSERT_GE(flips.size(), 16u);
  size_t refused = 0;
  for (const auto& fl : flips) {
    bytes_[fl.pos] ^= fl.mask;
    const Outcome o = try_parse(bytes_);
    bytes_[fl.pos] ^= fl.mask;
    refused += o == Outcome::kFormatError;
  }
  // Flips in the header always break something; the test must not pass by parsing nothing.
  EXPECT_GT(refused, 0u);
  // Restored: the original still parses.
  EXPECT_EQ(try_parse(bytes_), Outcome::kOk);
}

INSTANTIATE_TEST_SUITE_P(
    Refdata, GgufHostile,
    ::testing::Values("llm/models/stories260K.gguf", "llm/models/tiny-llama-rand-f32.gguf",
                      "llm/models/tiny-llama-rand-q8_0.gguf", "llm/models/tiny-llama-rand-q4_0.gguf",
                      "llm/models/tiny-qwen2-rand-f32.gguf", "llm/vocab/ggml-vocab-llama-spm.gguf",
                      "llm/vocab/ggml-vocab-gpt-2.gguf", "llm/vocab/ggml-vocab-phi-3.gguf",
                      "llm/vocab/ggml-vocab-bert-bge.gguf",
                      "llm/vocab/ggml-vocab-deepseek-coder.gguf",
                      "vision/models/mmproj-tiny-llava15-rand-f32.gguf",
                      "vision/models/mmproj-tiny-smolvlm-rand-f32.gguf",
                      "vision/models/tiny-smolvlm-text-rand-f32.gguf"),
    omni::testing::file_param_name);

}  // namespace
}  // namespace omni::gguf
