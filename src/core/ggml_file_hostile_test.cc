// Every refdata whisper ggml model, truncated at many lengths and with seeded byte flips (in the
// preamble, the vocabulary and every tensor header): each variant must parse or throw
// FormatError, never crash or throw anything else. A truncation parses only when it falls exactly
// between two tensors (the format lists tensors until the end of the file).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "core/error.h"
#include "core/ggml_file.h"
#include "testing/hostile.h"
#include "testing/refdata.h"

namespace omni::ggml {
namespace {

using omni::testing::byte_flips;
using omni::testing::truncation_points;

enum class Outcome { kOk, kFormatError };

Outcome try_parse(std::span<const uint8_t> bytes, std::string* error = nullptr) {
  try {
    const File f = File::parse(bytes, "hostile.bin");
    for (const auto& t : f.tensors()) {
      const auto b = t.bytes();
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
}

class GgmlHostile : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    bytes_ = omni::testing::read_file(omni::testing::refdata(GetParam()));
    const File f = File::parse(bytes_, GetParam());
    ASSERT_FALSE(f.tensors().empty());
    for (const auto& t : f.tensors()) {
      const uint64_t header = 12 + 4 * t.shape.size() + t.name.size();
      headers_.push_back({t.offset - header, t.offset});
      boundaries_.insert(t.offset + t.n_bytes);
    }
    meta_end_ = headers_.front().first;  // end of the vocabulary
    boundaries_.insert(meta_end_);
  }
  std::vector<uint8_t> bytes_;
  uint64_t meta_end_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> headers_;  // [start, data) of each tensor header
  std::set<uint64_t> boundaries_;                        // lengths that are complete files
};

TEST_P(GgmlHostile, Truncations) {
  auto points = truncation_points(bytes_.size(), meta_end_);
  // Every offset inside the first and last tensor headers; inside the others, one cut in the
  // header of every fourth (each of these parses the whole vocabulary again: keep it cheap).
  for (size_t i = 0; i < headers_.size(); ++i) {
    const auto [start, data] = headers_[i];
    if (i == 0 || i + 1 == headers_.size()) {
      for (uint64_t p = start; p <= data; ++p) points.push_back(p);
    } else if (i % 4 == 0) {
      points.push_back(start + 1 + i % (data - start - 1));
    }
  }
  size_t refused = 0;
  for (uint64_t n : points) {
    std::string error;
    const Outcome o = try_parse(std::span<const uint8_t>(bytes_.data(), n), &error);
    if (boundaries_.count(n)) {
      ASSERT_EQ(o, Outcome::kOk) << "cut between tensors at " << n << ": " << error;
    } else {
      ASSERT_EQ(o, Outcome::kFormatError) << "truncated to " << n << " bytes but parsed";
      ASSERT_NE(error.find("hostile.bin: "), std::string::npos) << error;
      ASSERT_NE(error.find("(at byte "), std::string::npos) << error;
      ++refused;
    }
  }
  EXPECT_GT(refused, 0u);
}

TEST_P(GgmlHostile, ByteFlips) {
  auto flips = byte_flips(bytes_.size(), meta_end_);
  // One flip in each tensor header as well: they sit between the data blobs.
  std::mt19937_64 rng(7);
  for (const auto& [start, data] : headers_) {
    std::uniform_int_distribution<uint64_t> pos(start, data - 1);
    flips.push_back({pos(rng), static_cast<uint8_t>(1u << (rng() % 8))});
  }
  size_t refused = 0;
  for (const auto& fl : flips) {
    bytes_[fl.pos] ^= fl.mask;
    refused += try_parse(bytes_) == Outcome::kFormatError;
    bytes_[fl.pos] ^= fl.mask;
  }
  EXPECT_GT(refused, 0u);
  EXPECT_EQ(try_parse(bytes_), Outcome::kOk);
}

INSTANTIATE_TEST_SUITE_P(Refdata, GgmlHostile,
                         ::testing::Values("asr/models/ggml-micro-random-f16.bin",
                                           "asr/models/ggml-micro.en-random-f16.bin"),
                         omni::testing::file_param_name);

}  // namespace
}  // namespace omni::ggml
