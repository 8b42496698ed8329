// libFuzzer target for image decoding (PNG, JPEG, BMP, GIF, WebP, EXIF, data URLs): any bytes
// either decode to an image whose size is consistent and within the limits, or raise
// omni::FormatError. Anything else (crash, other exception, sanitizer report) is a bug.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "core/error.h"
#include "vision/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  omni::vision::ImageLimits limits;
  limits.max_pixels = uint64_t{4} << 20;  // keep each run fast; the check itself is exercised
  try {
    const omni::vision::Image img = omni::vision::decode_image(bytes, limits, "fuzz");
    if (img.width <= 0 || img.height <= 0) std::abort();
    if (static_cast<uint64_t>(img.width) * static_cast<uint64_t>(img.height) > limits.max_pixels) std::abort();
    if (img.rgb.size() != static_cast<size_t>(img.width) * static_cast<size_t>(img.height) * 3) std::abort();
  } catch (const omni::FormatError&) {
  }
  // The same bytes as a percent-encoded data URL exercise the URL parser.
  if (size < 4096) {
    std::string url = "data:image/png,";
    url.append(reinterpret_cast<const char*>(data), size);
    try {
      omni::vision::decode_data_url(url, limits);
    } catch (const omni::FormatError&) {
    }
  }
  const int o = omni::vision::jpeg_exif_orientation(bytes);
  if (o < 0 || o > 8) std::abort();
  return 0;
}
