// Small image fuzz seeds (fuzz/seeds/image_*) covering what the refdata images (one baseline
// JPEG, RGBA and gray PNGs) do not: palette, 16-bit, GIF, BMP, WebP, progressive and CMYK JPEG,
// EXIF. OMNI_REGEN_SEEDS=1 rewrites them from the test encoders; the test checks that every
// committed seed decodes to the pattern it was made from.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "testing/refdata.h"
#include "vision/image.h"
#include "vision/image_testing.h"

namespace omni::vision {
namespace {

using namespace omni::vision::testing;

std::filesystem::path seeds_dir() { return omni::testing::source_path("fuzz/seeds"); }

struct Seed {
  const char* file;
  std::function<std::vector<uint8_t>()> make;
  int tolerance;  // max level difference to the pattern after decoding
};

std::vector<Seed> seeds() {
  const Image ref = pattern(12, 10);
  std::vector<uint8_t> pal(768, 0), idx, rgb16;
  for (size_t i = 0; i < ref.rgb.size(); i += 3) {
    std::copy(ref.rgb.begin() + static_cast<long>(i), ref.rgb.begin() + static_cast<long>(i + 3),
              pal.begin() + static_cast<long>(i));
    idx.push_back(static_cast<uint8_t>(i / 3));
    for (int c = 0; c < 3; ++c) rgb16.insert(rgb16.end(), {ref.rgb[i + static_cast<size_t>(c)], 0x5a});
  }
  std::vector<uint8_t> pal_png(pal.begin(), pal.begin() + 360);
  return {
      {"image_palette.png", [=] { return encode_png(12, 10, 8, 3, idx, pal_png, std::vector<uint8_t>(120, 9)); }, 0},
      {"image_rgb16.png", [=] { return encode_png(12, 10, 16, 2, rgb16); }, 0},
      {"image.gif", [=] { return encode_gif(12, 10, pal, idx); }, 0},
      {"image.bmp", [=] { return encode_bmp24(ref); }, 0},
      {"image_lossless.webp", [=] { return encode_webp_lossless(ref); }, 0},
      {"image_progressive.jpg", [=] { return encode_jpeg(ref, JpegKind::kProgressive); }, 40},
      {"image_cmyk.jpg", [=] { return encode_jpeg(ref, JpegKind::kCmyk); }, 40},
      {"image_exif_o1.jpg", [=] { return encode_jpeg(ref, JpegKind::kBaseline, 95, exif_orientation_app1(1, true)); }, 40},
  };
}

TEST(ImageSeeds, CommittedSeedsDecodeToTheirPattern) {
  const bool regen = std::getenv("OMNI_REGEN_SEEDS") != nullptr;
  const Image ref = pattern(12, 10);
  for (const auto& s : seeds()) {
    const auto path = seeds_dir() / s.file;
    if (regen) {
      const auto bytes = s.make();
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                  static_cast<std::streamsize>(bytes.size()));
    }
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " (OMNI_REGEN_SEEDS=1 makes it)";
    const Image img = load_image(path.string());
    ASSERT_EQ(img.width, 12) << s.file;
    ASSERT_EQ(img.height, 10) << s.file;
    int m = 0;
    for (size_t i = 0; i < img.rgb.size(); ++i) m = std::max(m, std::abs(int{img.rgb[i]} - int{ref.rgb[i]}));
    EXPECT_LE(m, s.tolerance) << s.file;
  }
}

}  // namespace
}  // namespace omni::vision

namespace omni::vision {
namespace {

// Inputs image_fuzz found: JPEG Huffman tables that stb_image's header probe (stbi_info) wrote
// past its arrays before our structure walk ran. Now a clear error, and clean under UBSan.
TEST(ImageSeeds, FuzzFoundJpegTablesAreRefusedBeforeStb) {
  for (const char* f : {"image_crash_stb_dht_1.jpg", "image_crash_stb_dht_2.jpg"}) {
    EXPECT_THROW(load_image((seeds_dir() / f).string()), omni::FormatError) << f;
  }
}

}  // namespace
}  // namespace omni::vision
