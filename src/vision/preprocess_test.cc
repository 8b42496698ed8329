// Preprocessing edge cases (the refdata goldens cover the normal path exactly): degenerate
// sizes, extreme aspect ratios, resizer identities.
#include "vision/preprocess.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "vision/image_testing.h"

namespace omni::vision {
namespace {

PreprocessConfig llava() {
  PreprocessConfig c;
  c.projector = ProjectorType::kMlp;
  c.image_size = 28;
  c.mean = {0.48145466f, 0.4578275f, 0.40821073f};
  c.std = {0.26862954f, 0.26130258f, 0.27577711f};
  return c;
}

PreprocessConfig smol() {
  PreprocessConfig c;
  c.projector = ProjectorType::kIdefics3;
  c.image_size = 16;
  c.preproc_image_size = 64;
  c.mean = {0.5f, 0.5f, 0.5f};
  c.std = {0.5f, 0.5f, 0.5f};
  return c;
}

TEST(Preprocess, SameSizeResizeIsIdentity) {
  const Image img = testing::pattern(13, 9);
  EXPECT_EQ(resize_bicubic(img, 13, 9).rgb, img.rgb);
  EXPECT_EQ(resize_bilinear(img, 13, 9).rgb, img.rgb);
}

TEST(Preprocess, PadKeepsAspectAndCentres) {
  const Image img = testing::pattern(40, 20);
  const Image p = resize_pad(img, 28, 28, {1, 2, 3});
  ASSERT_EQ(p.width, 28);
  // 40x20 -> 28x14 at y offset 7: rows 0..6 and 21..27 are padding.
  EXPECT_EQ(p.pixel(5, 6)[0], 1);
  EXPECT_EQ(p.pixel(5, 6)[2], 3);
  EXPECT_EQ(p.pixel(5, 21)[1], 2);
  EXPECT_NE(p.pixel(27, 7)[2], 3);
}

TEST(Preprocess, DegenerateSizes) {
  for (auto [w, h] : {std::pair{1, 1}, {1, 3000}, {3000, 1}, {2, 2}, {17, 5}}) {
    const Image img = testing::pattern(w, h);
    const VisionInput a = preprocess(img, llava());
    ASSERT_EQ(a.tiles.size(), 1u);
    EXPECT_EQ(a.tiles[0].size(), 3u * 28 * 28);
    const VisionInput b = preprocess(img, smol());
    EXPECT_EQ(b.tiles.size(), static_cast<size_t>(b.grid_cols * b.grid_rows + 1)) << w << "x" << h;
    EXPECT_LE(b.grid_cols, 4);
    EXPECT_LE(b.grid_rows, 4);
    EXPECT_GE(b.grid_cols, 1);
    for (const auto& t : b.tiles) {
      ASSERT_EQ(t.size(), 3u * 16 * 16);
      for (float v : t) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
    }
  }
  EXPECT_THROW(preprocess(Image{}, llava()), Error);
}

}  // namespace
}  // namespace omni::vision
