#include "core/dtype.h"

#include <gtest/gtest.h>

namespace omni {
namespace {

TEST(DType, BlockGeometryMatchesGgml) {
  struct Expect {
    DType t;
    uint32_t block, bytes;
  };
  const Expect cases[] = {
      {DType::F32, 1, 4},      {DType::F16, 1, 2},      {DType::BF16, 1, 2},
      {DType::Q4_0, 32, 18},   {DType::Q4_1, 32, 20},   {DType::Q5_0, 32, 22},
      {DType::Q5_1, 32, 24},   {DType::Q8_0, 32, 34},   {DType::Q2_K, 256, 84},
      {DType::Q3_K, 256, 110}, {DType::Q4_K, 256, 144}, {DType::Q5_K, 256, 176},
      {DType::Q6_K, 256, 210}, {DType::Q8_K, 256, 292}, {DType::IQ4_NL, 32, 18},
      {DType::IQ4_XS, 256, 136}, {DType::TQ1_0, 256, 54}, {DType::TQ2_0, 256, 66},
  };
  for (const auto& c : cases) {
    const auto& i = dtype_info(c.t);
    EXPECT_EQ(i.block_size, c.block) << i.name;
    EXPECT_EQ(i.type_size, c.bytes) << i.name;
  }
}

TEST(DType, UnknownIdsAreRejected) {
  EXPECT_FALSE(dtype_info(4u).has_value());
  EXPECT_FALSE(dtype_info(5u).has_value());
  EXPECT_FALSE(dtype_info(31u).has_value());
  EXPECT_FALSE(dtype_info(1000u).has_value());
  EXPECT_TRUE(dtype_info(30u).has_value());
}

TEST(DType, NamesAndRowBytes) {
  EXPECT_EQ(dtype_from_name("Q4_K"), DType::Q4_K);
  EXPECT_EQ(dtype_from_name("q8_0"), DType::Q8_0);
  EXPECT_FALSE(dtype_from_name("q9_9").has_value());
  EXPECT_EQ(row_bytes(DType::Q8_0, 64), 68u);
  EXPECT_FALSE(row_bytes(DType::Q4_K, 100).has_value());
  EXPECT_EQ(row_bytes(DType::F16, 7), 14u);
  EXPECT_FALSE(row_bytes(DType::F32, uint64_t{1} << 62).has_value());  // would wrap
  EXPECT_EQ(row_bytes(DType::F32, uint64_t{1} << 61), uint64_t{1} << 63);
}

}  // namespace
}  // namespace omni
