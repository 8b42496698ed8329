// Decoded images for the vision engines: 8-bit RGB, interleaved, row-major, top row first.
//
// Decoding follows llama.cpp's mtmd (stb_image asked for 3 channels), so preprocessed tensors
// match its goldens: an alpha channel is dropped, not composited (a transparent pixel keeps the
// RGB it stores); grayscale is replicated to R = G = B; 16-bit samples keep their high byte;
// palettes are expanded. Formats: PNG (any bit depth / colour type), JPEG (baseline,
// progressive, grayscale, CMYK/YCCK with an Adobe marker), BMP, GIF (first frame) through
// stb_image, and WebP (lossy, lossless, alpha; first frame) through libwebp. Unlike llama.cpp,
// a JPEG's EXIF orientation tag is applied (ImageLimits::apply_exif_orientation), so phone
// photos come out upright.
//
// All inputs are untrusted: the format is chosen from the magic bytes, the declared size is
// checked against ImageLimits before any pixel is decoded (decompression bombs), and anything
// malformed or truncated throws omni::FormatError naming the input.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace omni::vision {

struct ImageLimits {
  uint64_t max_pixels = uint64_t{64} << 20;  // width * height, checked from the header
  int max_side = 1 << 16;                    // either dimension
  uint64_t max_file_bytes = uint64_t{256} << 20;
  bool apply_exif_orientation = true;        // JPEG APP1 EXIF tag 0x0112
};

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes: R, G, B per pixel, rows top to bottom

  bool empty() const { return width == 0 || height == 0; }
  const uint8_t* pixel(int x, int y) const {
    return rgb.data() + (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
  }
  uint8_t* pixel(int x, int y) {
    return rgb.data() + (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
  }
};

enum class ImageFormat { kUnknown, kPng, kJpeg, kBmp, kGif, kWebp };
std::string_view image_format_name(ImageFormat f);
// The format named by the first bytes (kUnknown if none matches).
ImageFormat sniff_image_format(std::span<const uint8_t> bytes);

// Reads and decodes a file. Throws omni::Error if it cannot be read, omni::FormatError if its
// bytes are not a decodable image within the limits.
Image load_image(const std::string& path, const ImageLimits& limits = {});
// Decodes encoded image bytes; `name` labels error messages.
Image decode_image(std::span<const uint8_t> bytes, const ImageLimits& limits = {},
                   std::string_view name = "image");
// Decodes an RFC 2397 data URL, e.g. "data:image/png;base64,iVBOR...". The media type is not
// trusted (the bytes decide the format), but a non-image media type is refused. Base64 (with
// or without padding, whitespace ignored) and percent-encoded payloads are accepted.
Image decode_data_url(std::string_view url, const ImageLimits& limits = {});

// EXIF orientation (1..8, 1 = upright) found in a JPEG's APP1 segment, or 0 if there is none
// or it is malformed (a bad EXIF block never makes an image unreadable).
int jpeg_exif_orientation(std::span<const uint8_t> bytes);
// Applies an EXIF orientation (1..8) to an image; other values leave it unchanged.
Image apply_orientation(const Image& img, int orientation);

}  // namespace omni::vision
