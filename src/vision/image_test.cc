#include "vision/image.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/error.h"
#include "testing/refdata.h"
#include "vision/image_testing.h"

namespace omni::vision {
namespace {

using namespace omni::vision::testing;
using omni::testing::read_file;
using omni::testing::refdata;

std::string base64(const std::vector<uint8_t>& b) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s;
  for (size_t i = 0; i < b.size(); i += 3) {
    uint32_t v = uint32_t{b[i]} << 16;
    if (i + 1 < b.size()) v |= uint32_t{b[i + 1]} << 8;
    if (i + 2 < b.size()) v |= b[i + 2];
    s += t[(v >> 18) & 63];
    s += t[(v >> 12) & 63];
    s += i + 1 < b.size() ? t[(v >> 6) & 63] : '=';
    s += i + 2 < b.size() ? t[v & 63] : '=';
  }
  return s;
}

int max_diff(const Image& a, const Image& b) {
  int m = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) m = std::max(m, std::abs(int{a.rgb[i]} - int{b.rgb[i]}));
  return m;
}

TEST(Image, RocketJpegEqualsStbDecodeOfLlamaCpp) {
  const Image img = load_image(refdata("vision/images/rocket.jpg"));
  ASSERT_EQ(img.width, 640);
  ASSERT_EQ(img.height, 427);
  const auto want = read_file(refdata("vision/images/rocket.decoded_rgb.u8"));
  ASSERT_EQ(img.rgb.size(), want.size());
  EXPECT_TRUE(img.rgb == want);
}

TEST(Image, HorseRgbaDropsAlphaKeepingStoredWhite) {
  const Image img = load_image(refdata("vision/images/horse.png"));
  ASSERT_EQ(img.width, 400);
  ASSERT_EQ(img.height, 328);
  // The corner is transparent and stores white: alpha dropped, not composited onto black.
  EXPECT_EQ(img.pixel(0, 0)[0], 255);
  EXPECT_EQ(img.pixel(0, 0)[1], 255);
  EXPECT_EQ(img.pixel(0, 0)[2], 255);
  EXPECT_EQ(img.rgb.size(), 400u * 328 * 3);
}

TEST(Image, CameraGrayIsReplicated) {
  const Image img = load_image(refdata("vision/images/camera.png"));
  ASSERT_EQ(img.width, 512);
  ASSERT_EQ(img.height, 512);
  int distinct = 0;
  for (size_t i = 0; i < img.rgb.size(); i += 3) {
    ASSERT_EQ(img.rgb[i], img.rgb[i + 1]);
    ASSERT_EQ(img.rgb[i], img.rgb[i + 2]);
    distinct += img.rgb[i] != img.rgb[0];
  }
  EXPECT_GT(distinct, 1000);
}

TEST(Image, PngVariants) {
  const Image ref = pattern(7, 5);
  // RGB 8-bit.
  EXPECT_EQ(decode_image(encode_png(7, 5, 8, 2, ref.rgb)).rgb, ref.rgb);
  // RGBA 8-bit with alpha 0: RGB is kept as stored.
  std::vector<uint8_t> rgba, rgb16, gray, ga16, idx;
  std::vector<uint8_t> pal;
  for (size_t i = 0; i < ref.rgb.size(); i += 3) {
    rgba.insert(rgba.end(), {ref.rgb[i], ref.rgb[i + 1], ref.rgb[i + 2], static_cast<uint8_t>(i % 2 ? 0 : 200)});
    for (int c = 0; c < 3; ++c) rgb16.insert(rgb16.end(), {ref.rgb[i + c], static_cast<uint8_t>(0xff - ref.rgb[i + c])});
    gray.push_back(ref.rgb[i + 1]);
    ga16.insert(ga16.end(), {ref.rgb[i], 0x12, 0x00, 0x00});
    idx.push_back(static_cast<uint8_t>(i / 3));
    pal.insert(pal.end(), {ref.rgb[i], ref.rgb[i + 1], ref.rgb[i + 2]});
  }
  EXPECT_EQ(decode_image(encode_png(7, 5, 8, 6, rgba)).rgb, ref.rgb);
  // 16-bit: the high byte is kept.
  EXPECT_EQ(decode_image(encode_png(7, 5, 16, 2, rgb16)).rgb, ref.rgb);
  // Palette with a transparency table.
  std::vector<uint8_t> trns(35, 0);
  EXPECT_EQ(decode_image(encode_png(7, 5, 8, 3, idx, pal, trns)).rgb, ref.rgb);
  const Image g = decode_image(encode_png(7, 5, 8, 0, gray));
  const Image ga = decode_image(encode_png(7, 5, 16, 4, ga16));
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 7; ++x) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(g.pixel(x, y)[c], ref.pixel(x, y)[1]);
        EXPECT_EQ(ga.pixel(x, y)[c], ref.pixel(x, y)[0]);
      }
    }
  }
  // 1-bit grayscale: 0 -> 0, 1 -> 255.
  const Image bw = decode_image(encode_png(8, 1, 1, 0, {0b10100000}));
  EXPECT_EQ(bw.pixel(0, 0)[0], 255);
  EXPECT_EQ(bw.pixel(1, 0)[0], 0);
  EXPECT_EQ(bw.pixel(2, 0)[2], 255);
}

TEST(Image, BmpGifWebpLossless) {
  const Image ref = pattern(9, 6);
  EXPECT_EQ(decode_image(encode_bmp24(ref)).rgb, ref.rgb);
  std::vector<uint8_t> pal(768, 0), idx;
  for (size_t i = 0; i < ref.rgb.size(); i += 3) {
    std::copy(ref.rgb.begin() + static_cast<long>(i), ref.rgb.begin() + static_cast<long>(i + 3), pal.begin() + static_cast<long>(i));
    idx.push_back(static_cast<uint8_t>(i / 3));
  }
  const Image gif = decode_image(encode_gif(9, 6, pal, idx));
  ASSERT_EQ(gif.width, 9);
  EXPECT_EQ(gif.rgb, ref.rgb);
  const Image webp = decode_image(encode_webp_lossless(ref));
  EXPECT_EQ(webp.rgb, ref.rgb);
  const Image big = pattern(64, 48);
  const Image lossy = decode_image(encode_webp_lossy(big));
  ASSERT_EQ(lossy.width, 64);
  ASSERT_EQ(lossy.height, 48);
  EXPECT_LE(max_diff(lossy, big), 40);
}

TEST(Image, GifLargerThanOneClearRun) {
  // Several LZW clear codes and data sub-blocks.
  const int w = 40, h = 30;
  std::vector<uint8_t> pal(768), idx;
  for (int i = 0; i < 256; ++i) pal[3 * i] = pal[3 * i + 1] = pal[3 * i + 2] = static_cast<uint8_t>(i);
  for (int i = 0; i < w * h; ++i) idx.push_back(static_cast<uint8_t>(i * 7));
  const Image img = decode_image(encode_gif(w, h, pal, idx));
  for (int i = 0; i < w * h; ++i) ASSERT_EQ(img.rgb[3 * static_cast<size_t>(i)], idx[static_cast<size_t>(i)]);
}

TEST(Image, JpegVariants) {
  const Image ref = pattern(48, 32);
  for (auto kind : {JpegKind::kBaseline, JpegKind::kProgressive, JpegKind::kCmyk}) {
    const Image img = decode_image(encode_jpeg(ref, kind));
    ASSERT_EQ(img.width, 48);
    ASSERT_EQ(img.height, 32);
    EXPECT_LE(max_diff(img, ref), 24) << static_cast<int>(kind);
  }
  // Baseline and progressive encodings of the same image decode to nearly the same pixels.
  EXPECT_LE(max_diff(decode_image(encode_jpeg(ref, JpegKind::kBaseline)),
                     decode_image(encode_jpeg(ref, JpegKind::kProgressive))), 8);
  const Image g = decode_image(encode_jpeg(ref, JpegKind::kGray));
  for (size_t i = 0; i < g.rgb.size(); i += 3) {
    ASSERT_EQ(g.rgb[i], g.rgb[i + 1]);
    ASSERT_EQ(g.rgb[i], g.rgb[i + 2]);
  }
}

TEST(Image, ExifOrientationIsApplied) {
  const Image ref = pattern(48, 32);
  const Image plain = decode_image(encode_jpeg(ref, JpegKind::kBaseline));
  for (int o = 1; o <= 8; ++o) {
    for (bool be : {false, true}) {
      const auto bytes = encode_jpeg(ref, JpegKind::kBaseline, 95, exif_orientation_app1(o, be));
      EXPECT_EQ(jpeg_exif_orientation(bytes), o);
      const Image img = decode_image(bytes);
      const Image want = apply_orientation(plain, o);
      EXPECT_EQ(img.width, o >= 5 ? 32 : 48);
      EXPECT_EQ(img.rgb, want.rgb) << "orientation " << o;
      ImageLimits keep;
      keep.apply_exif_orientation = false;
      EXPECT_EQ(decode_image(bytes, keep).rgb, plain.rgb);
    }
  }
  // Orientation 6 (rotate 90 clockwise): the stored left column becomes the top row.
  const Image r = apply_orientation(ref, 6);
  EXPECT_EQ(r.width, 32);
  EXPECT_EQ(r.height, 48);
  EXPECT_EQ(0, std::memcmp(r.pixel(0, 0), ref.pixel(0, 31), 3));
  EXPECT_EQ(0, std::memcmp(r.pixel(31, 0), ref.pixel(0, 0), 3));
  EXPECT_EQ(0, std::memcmp(r.pixel(31, 47), ref.pixel(47, 0), 3));
  // Rotations compose: 6 then 8 is the identity; 3 twice too.
  EXPECT_EQ(apply_orientation(apply_orientation(ref, 6), 8).rgb, ref.rgb);
  EXPECT_EQ(apply_orientation(apply_orientation(ref, 3), 3).rgb, ref.rgb);
}

TEST(Image, DataUrl) {
  const Image ref = pattern(7, 5);
  const auto png = encode_png(7, 5, 8, 2, ref.rgb);
  EXPECT_EQ(decode_data_url("data:image/png;base64," + base64(png)).rgb, ref.rgb);
  // Media type is not trusted: the bytes decide; whitespace and missing padding are fine.
  std::string b = base64(png);
  while (!b.empty() && b.back() == '=') b.pop_back();
  b.insert(10, "\n ");
  EXPECT_EQ(decode_data_url("DATA:image/jpeg;base64," + b).rgb, ref.rgb);
  std::string pct = "data:image/png,";
  for (uint8_t c : png) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", c);
    pct += buf;
  }
  EXPECT_EQ(decode_data_url(pct).rgb, ref.rgb);
  EXPECT_THROW(decode_data_url("data:text/plain;base64," + base64(png)), FormatError);
  EXPECT_THROW(decode_data_url("http://example.invalid/x.png"), FormatError);
  EXPECT_THROW(decode_data_url("data:image/png;base64"), FormatError);
  EXPECT_THROW(decode_data_url("data:image/png;base64,@@@@"), FormatError);
  EXPECT_THROW(decode_data_url("data:image/png;base64,QUJD=QUJD"), FormatError);
  EXPECT_THROW(decode_data_url("data:image/png,%4"), FormatError);
}

void expect_format_error(std::span<const uint8_t> bytes, const std::string& needle,
                         const ImageLimits& limits = {}) {
  try {
    decode_image(bytes, limits, "t.img");
    ADD_FAILURE() << "no error, wanted: " << needle;
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("t.img: ", 0), 0u) << e.what();
  }
}

TEST(Image, WrongMagicAndEmpty) {
  expect_format_error({}, "empty");
  const std::string text = "hello, this is text";
  expect_format_error({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, "not a supported image");
  const auto gguf = read_file(refdata("vision/models/mmproj-tiny-smolvlm-rand-f32.gguf"));
  expect_format_error(gguf, "starts with bytes 47475546");
  EXPECT_THROW(load_image("/nonexistent/dir/x.png"), Error);
}

TEST(Image, HugeDeclaredDimensionsRefusedBeforeDecoding) {
  // PNG header claiming 100000 x 100000 with a tiny body.
  auto png = encode_png(2, 2, 8, 2, std::vector<uint8_t>(12, 7));
  png[16] = 0, png[17] = 1, png[18] = 0x86, png[19] = 0xa0;  // width 100000
  png[20] = 0, png[21] = 1, png[22] = 0x86, png[23] = 0xa0;  // height 100000
  const uint32_t crc = crc32(png.data() + 12, 17);
  png[29] = static_cast<uint8_t>(crc >> 24), png[30] = static_cast<uint8_t>(crc >> 16);
  png[31] = static_cast<uint8_t>(crc >> 8), png[32] = static_cast<uint8_t>(crc);
  expect_format_error(png, "exceeds the limit");
  // A configurable limit.
  ImageLimits small;
  small.max_pixels = 34;
  expect_format_error(encode_png(7, 5, 8, 2, pattern(7, 5).rgb), "7x5 pixels exceeds", small);
  small.max_pixels = 35;
  EXPECT_NO_THROW(decode_image(encode_png(7, 5, 8, 2, pattern(7, 5).rgb), small));
  // JPEG SOF claiming 60000 x 60000.
  auto jpg = encode_jpeg(pattern(16, 16), JpegKind::kBaseline);
  for (size_t i = 2; i + 9 < jpg.size(); ++i) {
    if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {
      jpg[i + 5] = 0xea, jpg[i + 6] = 0x60, jpg[i + 7] = 0xea, jpg[i + 8] = 0x60;
      break;
    }
  }
  expect_format_error(jpg, "60000x60000 pixels exceeds");
  // GIF and BMP and WebP headers likewise.
  std::vector<uint8_t> pal(768, 0);
  auto gif = encode_gif(4, 4, pal, std::vector<uint8_t>(16, 0));
  gif[6] = 0xff, gif[7] = 0xff, gif[8] = 0xff, gif[9] = 0xff;
  EXPECT_THROW(decode_image(gif), FormatError);
  auto bmp = encode_bmp24(pattern(4, 4));
  bmp[20] = 0x10, bmp[24] = 0x10;  // 1 Mi x 1 Mi
  EXPECT_THROW(decode_image(bmp), FormatError);
  auto webp = encode_webp_lossless(pattern(4, 4));
  EXPECT_NO_THROW(decode_image(webp));
  ImageLimits tiny;
  tiny.max_pixels = 15;
  expect_format_error(webp, "exceeds", tiny);
}

// Every prefix of every encoding is refused with a FormatError (never a crash, never a
// silently padded image), and single-bit flips either decode or give a FormatError.
TEST(Image, TruncationsAndFlipsGiveFormatErrors) {
  const Image ref = pattern(13, 11);
  std::vector<uint8_t> pal(768, 0), idx;
  for (int i = 0; i < 13 * 11; ++i) idx.push_back(static_cast<uint8_t>(i));
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> files = {
      {"png", encode_png(13, 11, 8, 2, ref.rgb)},
      {"jpeg", encode_jpeg(ref, JpegKind::kBaseline)},
      {"progressive", encode_jpeg(ref, JpegKind::kProgressive)},
      {"bmp", encode_bmp24(ref)},
      {"gif", encode_gif(13, 11, pal, idx)},
      {"webp", encode_webp_lossless(ref)},
      {"webp-lossy", encode_webp_lossy(ref)},
  };
  for (const auto& [kind, bytes] : files) {
    ASSERT_NO_THROW(decode_image(bytes)) << kind;
    // A GIF without its trailer byte still holds a complete first frame.
    const size_t full = kind == "gif" ? bytes.size() - 1 : bytes.size();
    for (size_t n = 0; n < full; ++n) {
      try {
        decode_image(std::span(bytes.data(), n));
        ADD_FAILURE() << kind << " prefix of " << n << " of " << bytes.size() << " bytes decoded";
      } catch (const FormatError&) {
      }
    }
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (int bit : {0, 7}) {
        auto b = bytes;
        b[i] ^= static_cast<uint8_t>(1u << bit);
        try {
          const Image img = decode_image(b);
          ASSERT_EQ(img.rgb.size(), static_cast<size_t>(img.width) * img.height * 3);
        } catch (const FormatError&) {
        }
      }
    }
  }
}

TEST(Image, RealFilesTruncatedGiveFormatErrors) {
  for (const char* f : {"vision/images/rocket.jpg", "vision/images/horse.png"}) {
    const auto bytes = read_file(refdata(f));
    for (size_t n : {size_t{0}, size_t{10}, size_t{100}, bytes.size() / 2, bytes.size() - 3}) {
      EXPECT_THROW(decode_image(std::span(bytes.data(), n)), FormatError) << f << " " << n;
    }
  }
}

}  // namespace
}  // namespace omni::vision
