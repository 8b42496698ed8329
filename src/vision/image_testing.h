// Test helpers: tiny encoders for the image formats, so tests build every variant (bit depth,
// colour type, palette, progressive, CMYK, EXIF) from a known pixel pattern instead of relying on
// opaque binary fixtures. PNG uses stored (uncompressed) deflate blocks; GIF uses LZW with a
// clear code often enough that codes stay 9 bits wide.
#pragma once

#include <jpeglib.h>
#include <webp/encode.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vision/image.h"

namespace omni::vision::testing {

// A w x h pattern with distinct, smooth colours (also survives JPEG reasonably).
inline Image pattern(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb = std::vector<uint8_t>(static_cast<size_t>(w) * static_cast<size_t>(h) * 3, uint8_t{0});
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.pixel(x, y);
      p[0] = static_cast<uint8_t>(x * 255 / std::max(1, w - 1));
      p[1] = static_cast<uint8_t>(y * 255 / std::max(1, h - 1));
      p[2] = static_cast<uint8_t>((x + y) * 255 / std::max(1, w + h - 2));
    }
  }
  return img;
}

inline void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}
inline void put_le16(std::vector<uint8_t>& v, uint32_t x) {
  v.push_back(static_cast<uint8_t>(x));
  v.push_back(static_cast<uint8_t>(x >> 8));
}
inline void put_le32(std::vector<uint8_t>& v, uint32_t x) {
  put_le16(v, x & 0xffff);
  put_le16(v, x >> 16);
}

inline uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

inline void png_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_be32(out, crc32(out.data() + start, out.size() - start));
}

// PNG from raw scanlines (filter byte 0 added here). color_type: 0 gray, 2 RGB, 3 palette,
// 4 gray+alpha, 6 RGBA.
inline std::vector<uint8_t> encode_png(int w, int h, int bit_depth, int color_type,
                                       const std::vector<uint8_t>& raw_rows,
                                       const std::vector<uint8_t>& palette = {},
                                       const std::vector<uint8_t>& trns = {}) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, static_cast<uint32_t>(w));
  put_be32(ihdr, static_cast<uint32_t>(h));
  ihdr.insert(ihdr.end(), {static_cast<uint8_t>(bit_depth), static_cast<uint8_t>(color_type), 0, 0, 0});
  png_chunk(out, "IHDR", ihdr);
  if (!palette.empty()) png_chunk(out, "PLTE", palette);
  if (!trns.empty()) png_chunk(out, "tRNS", trns);
  const size_t stride = raw_rows.size() / static_cast<size_t>(h);
  std::vector<uint8_t> filtered;
  for (int y = 0; y < h; ++y) {
    filtered.push_back(0);
    filtered.insert(filtered.end(), raw_rows.begin() + static_cast<long>(y * stride),
                    raw_rows.begin() + static_cast<long>((y + 1) * stride));
  }
  std::vector<uint8_t> z = {0x78, 0x01};
  uint32_t a = 1, b = 0;
  for (uint8_t c : filtered) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  for (size_t i = 0; i < filtered.size() || i == 0; i += 65535) {
    const size_t n = std::min<size_t>(65535, filtered.size() - i);
    z.push_back(i + n >= filtered.size() ? 1 : 0);
    put_le16(z, static_cast<uint32_t>(n));
    put_le16(z, static_cast<uint32_t>(~n & 0xffff));
    z.insert(z.end(), filtered.begin() + static_cast<long>(i), filtered.begin() + static_cast<long>(i + n));
  }
  put_be32(z, (b << 16) | a);
  png_chunk(out, "IDAT", z);
  png_chunk(out, "IEND", {});
  return out;
}

inline std::vector<uint8_t> encode_bmp24(const Image& img) {
  const uint32_t stride = (static_cast<uint32_t>(img.width) * 3 + 3) / 4 * 4;
  std::vector<uint8_t> out = {'B', 'M'};
  put_le32(out, 54 + stride * static_cast<uint32_t>(img.height));
  put_le32(out, 0);
  put_le32(out, 54);
  put_le32(out, 40);
  put_le32(out, static_cast<uint32_t>(img.width));
  put_le32(out, static_cast<uint32_t>(img.height));  // bottom-up
  put_le16(out, 1);
  put_le16(out, 24);
  for (int i = 0; i < 6; ++i) put_le32(out, 0);
  for (int y = img.height - 1; y >= 0; --y) {
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.pixel(x, y);
      out.insert(out.end(), {p[2], p[1], p[0]});
    }
    for (uint32_t k = static_cast<uint32_t>(img.width) * 3; k < stride; ++k) out.push_back(0);
  }
  return out;
}

// GIF89a with a 256-entry global palette; pixels are palette indices.
inline std::vector<uint8_t> encode_gif(int w, int h, const std::vector<uint8_t>& palette768,
                                       const std::vector<uint8_t>& indices) {
  std::vector<uint8_t> out = {'G', 'I', 'F', '8', '9', 'a'};
  put_le16(out, static_cast<uint32_t>(w));
  put_le16(out, static_cast<uint32_t>(h));
  out.insert(out.end(), {0xf7, 0, 0});
  out.insert(out.end(), palette768.begin(), palette768.end());
  out.push_back(0x2c);
  put_le16(out, 0);
  put_le16(out, 0);
  put_le16(out, static_cast<uint32_t>(w));
  put_le16(out, static_cast<uint32_t>(h));
  out.push_back(0);
  out.push_back(8);  // LZW minimum code size
  std::vector<uint8_t> data;
  uint32_t acc = 0;
  int nbits = 0;
  auto emit = [&](uint32_t code) {
    acc |= code << nbits;
    nbits += 9;
    while (nbits >= 8) {
      data.push_back(static_cast<uint8_t>(acc));
      acc >>= 8;
      nbits -= 8;
    }
  };
  for (size_t i = 0; i < indices.size(); ++i) {
    if (i % 200 == 0) emit(256);  // clear: the table never grows past 9-bit codes
    emit(indices[i]);
  }
  emit(257);
  if (nbits > 0) data.push_back(static_cast<uint8_t>(acc));
  for (size_t i = 0; i < data.size(); i += 255) {
    const size_t n = std::min<size_t>(255, data.size() - i);
    out.push_back(static_cast<uint8_t>(n));
    out.insert(out.end(), data.begin() + static_cast<long>(i), data.begin() + static_cast<long>(i + n));
  }
  out.push_back(0);
  out.push_back(0x3b);
  return out;
}

enum class JpegKind { kBaseline, kProgressive, kGray, kCmyk };

// libjpeg encode; for kCmyk the channels written are (R, G, B, 255) with an Adobe marker, which
// readers (stb_image included) treat as inverted CMYK, so the decoded colour is the input's.
inline std::vector<uint8_t> encode_jpeg(const Image& img, JpegKind kind, int quality = 95,
                                        const std::vector<uint8_t>& app1 = {}) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(img.width);
  c.image_height = static_cast<JDIMENSION>(img.height);
  c.input_components = kind == JpegKind::kGray ? 1 : kind == JpegKind::kCmyk ? 4 : 3;
  c.in_color_space = kind == JpegKind::kGray ? JCS_GRAYSCALE : kind == JpegKind::kCmyk ? JCS_CMYK : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  if (kind == JpegKind::kProgressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  if (!app1.empty()) jpeg_write_marker(&c, JPEG_APP0 + 1, app1.data(), static_cast<unsigned>(app1.size()));
  std::vector<uint8_t> row(static_cast<size_t>(img.width) * 4);
  while (c.next_scanline < c.image_height) {
    const int y = static_cast<int>(c.next_scanline);
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* p = img.pixel(x, y);
      if (kind == JpegKind::kGray) {
        row[static_cast<size_t>(x)] = p[1];
      } else if (kind == JpegKind::kCmyk) {
        std::memcpy(&row[static_cast<size_t>(x) * 4], p, 3);
        row[static_cast<size_t>(x) * 4 + 3] = 255;
      } else {
        std::memcpy(&row[static_cast<size_t>(x) * 3], p, 3);
      }
    }
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

// An APP1 EXIF payload holding only the orientation tag.
inline std::vector<uint8_t> exif_orientation_app1(int orientation, bool big_endian) {
  std::vector<uint8_t> e = {'E', 'x', 'i', 'f', 0, 0};
  auto u16 = [&](uint32_t v) {
    if (big_endian) {
      e.push_back(static_cast<uint8_t>(v >> 8));
      e.push_back(static_cast<uint8_t>(v));
    } else {
      put_le16(e, v);
    }
  };
  auto u32 = [&](uint32_t v) {
    if (big_endian) {
      put_be32(e, v);
    } else {
      put_le32(e, v);
    }
  };
  e.insert(e.end(), big_endian ? std::initializer_list<uint8_t>{'M', 'M'} : std::initializer_list<uint8_t>{'I', 'I'});
  u16(42);
  u32(8);
  u16(2);  // two entries: an unrelated one first
  u16(0x010f); u16(2); u32(4); u32(0x00616263);
  u16(0x0112); u16(3); u32(1); u16(static_cast<uint32_t>(orientation)); u16(0);
  u32(0);
  return e;
}

inline std::vector<uint8_t> encode_webp_lossless(const Image& img) {
  uint8_t* out = nullptr;
  const size_t n = WebPEncodeLosslessRGB(img.rgb.data(), img.width, img.height, img.width * 3, &out);
  std::vector<uint8_t> v(out, out + n);
  WebPFree(out);
  return v;
}

inline std::vector<uint8_t> encode_webp_lossy(const Image& img, float quality = 90) {
  uint8_t* out = nullptr;
  const size_t n = WebPEncodeRGB(img.rgb.data(), img.width, img.height, img.width * 3, quality, &out);
  std::vector<uint8_t> v(out, out + n);
  WebPFree(out);
  return v;
}

}  // namespace omni::vision::testing
