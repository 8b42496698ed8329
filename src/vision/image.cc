#include "vision/image.h"

#include <webp/decode.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "vision/stb_config.h"

namespace omni::vision {
namespace {

[[noreturn]] void fail(std::string_view name, const std::string& problem) {
  throw FormatError(std::string(name) + ": " + problem);
}

uint32_t be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint32_t le16(const uint8_t* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8); }
uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

void check_size(int64_t w, int64_t h, const ImageLimits& limits, std::string_view name) {
  if (w <= 0 || h <= 0) {
    fail(name, "invalid image size " + std::to_string(w) + "x" + std::to_string(h));
  }
  if (w > limits.max_side || h > limits.max_side ||
      static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > limits.max_pixels) {
    fail(name, "image of " + std::to_string(w) + "x" + std::to_string(h) +
                   " pixels exceeds the limit (" + std::to_string(limits.max_pixels) +
                   " pixels, " + std::to_string(limits.max_side) + " per side)");
  }
}

// stb_image decodes what it can of a cut-off stream and pads the rest, so truncation is
// detected here from the container structure before decoding.

// Every chunk must fit (length + type + data + CRC) and IEND must be reached. The image data
// (IDAT chunks) is inflated once with zlib, output discarded, and must end within the size the
// header implies: stb_image would otherwise grow its buffer for as long as a zip bomb inflates.
void check_png_structure(std::span<const uint8_t> b, std::string_view name) {
  const uint64_t w = be32(b.data() + 16), h = be32(b.data() + 20);
  const uint64_t depth = b[24], color = b[25];
  const uint64_t channels = color == 2 ? 3 : color == 4 ? 2 : color == 6 ? 4 : 1;
  // Row bytes + filter byte; interlacing adds at most a filter byte per row per pass.
  const uint64_t max_raw = ((w * channels * depth + 7) / 8 + 1) * h + 7 * (h + 8) + 64;
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) throw Error("zlib initialisation failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  uint8_t sink[16384];
  uint64_t raw = 0;
  bool stream_end = false;
  size_t pos = 8;
  while (true) {
    if (b.size() - pos < 12) fail(name, "PNG truncated (chunk header at byte " + std::to_string(pos) + ")");
    const uint64_t len = be32(b.data() + pos);
    if (len > 0x7fffffffu) fail(name, "PNG chunk length out of range at byte " + std::to_string(pos));
    if (len + 12 > b.size() - pos) {
      fail(name, "PNG truncated (chunk at byte " + std::to_string(pos) + " declares " +
                     std::to_string(len) + " bytes)");
    }
    const uint8_t* type = b.data() + pos + 4;
    if (std::memcmp(type, "IDAT", 4) == 0 && !stream_end) {
      zs.next_in = const_cast<Bytef*>(b.data() + pos + 8);
      zs.avail_in = static_cast<uInt>(len);
      while (zs.avail_in > 0 && !stream_end) {
        zs.next_out = sink;
        zs.avail_out = sizeof sink;
        const int rc = inflate(&zs, Z_NO_FLUSH);
        raw += sizeof sink - zs.avail_out;
        if (raw > max_raw) {
          fail(name, "PNG image data inflates beyond the " + std::to_string(max_raw) +
                         " bytes its header allows (decompression bomb?)");
        }
        if (rc == Z_STREAM_END) {
          stream_end = true;
        } else if (rc != Z_OK) {
          fail(name, "PNG image data is corrupt (zlib: " + std::string(zs.msg ? zs.msg : "error") +
                         ") in chunk at byte " + std::to_string(pos));
        }
      }
    }
    pos += static_cast<size_t>(len) + 12;
    if (std::memcmp(type, "IEND", 4) == 0) break;
  }
  if (!stream_end) fail(name, "PNG image data is incomplete (truncated deflate stream)");
}

// Walks every marker segment (skipping entropy-coded data after each start-of-scan): Huffman
// tables must hold at most 256 codes (stb_image writes past its arrays otherwise), and the
// end-of-image marker must follow the image data (an EXIF thumbnail's own EOI sits inside APP1).
void check_jpeg_structure(std::span<const uint8_t> b, std::string_view name) {
  size_t i = 2;
  bool seen_sos = false;
  while (i + 1 < b.size()) {
    if (b[i] != 0xff) {
      if (!seen_sos) fail(name, "JPEG marker expected at byte " + std::to_string(i));
      ++i;  // entropy-coded data
      continue;
    }
    const uint8_t m = b[i + 1];
    if (m == 0xff) {
      ++i;
      continue;
    }
    if (m == 0x00 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    if (m == 0xd9) {
      if (seen_sos) return;
      fail(name, "JPEG ends before any image data");
    }
    if (m == 0xd8) fail(name, "JPEG has a second start-of-image marker at byte " + std::to_string(i));
    if (i + 4 > b.size()) break;
    const size_t len = be16(b.data() + i + 2);
    if (len < 2 || i + 2 + len > b.size()) {
      fail(name, "JPEG truncated (segment at byte " + std::to_string(i) + " declares " +
                     std::to_string(len) + " bytes)");
    }
    if (m == 0xc4) {  // DHT: one or more tables of 1 + 16 + n bytes
      size_t p = i + 4;
      const size_t e = i + 2 + len;
      while (p < e) {
        if (p + 17 > e) fail(name, "JPEG Huffman table truncated at byte " + std::to_string(p));
        size_t n = 0;
        for (size_t k = 1; k <= 16; ++k) n += b[p + k];
        if (n > 256) {
          fail(name, "JPEG Huffman table at byte " + std::to_string(p) + " declares " +
                         std::to_string(n) + " codes (at most 256)");
        }
        p += 17 + n;
      }
      if (p != e) fail(name, "JPEG Huffman segment at byte " + std::to_string(i) + " is malformed");
    }
    if (m == 0xda) seen_sos = true;
    i += 2 + len;
  }
  if (!seen_sos) fail(name, "JPEG has no image data (no start-of-scan marker; truncated?)");
  fail(name, "JPEG truncated (no end-of-image marker after the image data)");
}

// Uncompressed bitmaps must hold all their rows.
void check_bmp_structure(std::span<const uint8_t> b, std::string_view name) {
  if (b.size() < 26) fail(name, "BMP truncated (header)");
  const uint32_t off = le32(b.data() + 10);
  const uint32_t hsize = le32(b.data() + 14);
  int64_t w = 0, h = 0;
  uint32_t bpp = 0, comp = 0;
  if (hsize == 12) {
    w = le16(b.data() + 18);
    h = le16(b.data() + 20);
    bpp = le16(b.data() + 24);
  } else {
    if (b.size() < 34) fail(name, "BMP truncated (header)");
    w = static_cast<int32_t>(le32(b.data() + 18));
    h = static_cast<int32_t>(le32(b.data() + 22));
    bpp = le16(b.data() + 28);
    comp = le32(b.data() + 30);
  }
  if (comp != 0 && comp != 3 && comp != 6) return;  // RLE etc.: stb refuses them itself
  if (w <= 0 || h == 0 || bpp == 0 || bpp > 32) return;  // stb reports these
  const uint64_t ah = static_cast<uint64_t>(h < 0 ? -h : h);
  const uint64_t stride = (static_cast<uint64_t>(w) * bpp + 31) / 32 * 4;
  if (static_cast<uint64_t>(off) + stride * ah > b.size()) {
    fail(name, "BMP truncated: pixel data needs " + std::to_string(stride * ah) +
                   " bytes from byte " + std::to_string(off) + ", file has " +
                   std::to_string(b.size()));
  }
}

// Walks the blocks up to the end of the first image's data (the frame we decode).
void check_gif_structure(std::span<const uint8_t> b, std::string_view name) {
  auto need = [&](size_t pos, size_t n) {
    if (pos + n > b.size()) fail(name, "GIF truncated at byte " + std::to_string(pos));
  };
  auto skip_sub_blocks = [&](size_t pos) {
    while (true) {
      need(pos, 1);
      const size_t n = b[pos];
      ++pos;
      if (n == 0) return pos;
      need(pos, n);
      pos += n;
    }
  };
  need(0, 13);
  size_t pos = 13;
  if (b[10] & 0x80) pos += size_t{3} << ((b[10] & 7) + 1);
  while (true) {
    need(pos, 1);
    const uint8_t tag = b[pos];
    if (tag == 0x21) {
      need(pos, 2);
      pos = skip_sub_blocks(pos + 2);
    } else if (tag == 0x2c) {
      need(pos, 10);
      const uint8_t flags = b[pos + 9];
      pos += 10;
      if (flags & 0x80) pos += size_t{3} << ((flags & 7) + 1);
      need(pos, 1);
      skip_sub_blocks(pos + 1);
      return;
    } else {
      fail(name, "GIF has no image (block 0x" + std::to_string(tag) + " at byte " +
                     std::to_string(pos) + ")");
    }
  }
}

// Declared size of a PNG (IHDR), checked before stb_image looks at it.
void check_png_size(std::span<const uint8_t> b, const ImageLimits& limits, std::string_view name) {
  if (b.size() < 33 || std::memcmp(b.data() + 12, "IHDR", 4) != 0) {
    fail(name, "PNG truncated or without IHDR header");
  }
  check_size(be32(b.data() + 16), be32(b.data() + 20), limits, name);
}

Image decode_stb(std::span<const uint8_t> b, ImageFormat fmt, const ImageLimits& limits,
                 std::string_view name) {
  const int len = static_cast<int>(b.size());
  if (fmt == ImageFormat::kPng) check_png_size(b, limits, name);
  // The structure walks come before any stb call: stbi_info already parses JPEG tables (DHT),
  // and a table it cannot hold is an out-of-bounds write inside stb (found by image_fuzz).
  switch (fmt) {
    case ImageFormat::kPng: check_png_structure(b, name); break;
    case ImageFormat::kJpeg: check_jpeg_structure(b, name); break;
    case ImageFormat::kBmp: check_bmp_structure(b, name); break;
    case ImageFormat::kGif: check_gif_structure(b, name); break;
    default: break;
  }
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(b.data(), len, &w, &h, &comp)) {
    // stb tries every format, so its last reason is "unknown image type": not helpful.
    fail(name, std::string(image_format_name(fmt)) + " header not readable (corrupt, truncated "
                   "or an unsupported variant)");
  }
  check_size(w, h, limits, name);
  int w2 = 0, h2 = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(
      stbi_load_from_memory(b.data(), len, &w2, &h2, &comp, 3), stbi_image_free);
  if (!px) {
    fail(name, std::string(image_format_name(fmt)) + " decode failed: " + stbi_failure_reason());
  }
  if (w2 != w || h2 != h) fail(name, "decoded size differs from the header");
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(px.get(), px.get() + static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  return img;
}

Image decode_webp(std::span<const uint8_t> b, const ImageLimits& limits, std::string_view name) {
  WebPBitstreamFeatures f;
  if (WebPGetFeatures(b.data(), b.size(), &f) != VP8_STATUS_OK) {
    fail(name, "WebP header not readable (corrupt or truncated)");
  }
  check_size(f.width, f.height, limits, name);
  if (f.has_animation) fail(name, "animated WebP is not supported");
  int w = 0, h = 0;
  uint8_t* px = WebPDecodeRGB(b.data(), b.size(), &w, &h);
  if (!px) fail(name, "WebP decode failed (corrupt or truncated)");
  std::unique_ptr<uint8_t, void (*)(void*)> guard(px, WebPFree);
  if (w != f.width || h != f.height) fail(name, "decoded size differs from the header");
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(px, px + static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  return img;
}

int8_t b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<int8_t>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<int8_t>(c - 'a' + 26);
  if (c >= '0' && c <= '9') return static_cast<int8_t>(c - '0' + 52);
  if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
  if (c == '/' || c == '_') return 63;
  return -1;
}

std::vector<uint8_t> base64_decode(std::string_view s, std::string_view name) {
  std::vector<uint8_t> out;
  out.reserve(s.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) fail(name, "base64 data after padding at character " + std::to_string(i));
    const int8_t v = b64_value(c);
    if (v < 0) fail(name, "invalid base64 character at " + std::to_string(i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  if (bits >= 6 || pad > 2) fail(name, "base64 data has a dangling character");
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<uint8_t> percent_decode(std::string_view s, std::string_view name) {
  std::vector<uint8_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(static_cast<uint8_t>(s[i]));
      continue;
    }
    const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) fail(name, "bad percent escape at character " + std::to_string(i));
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    const char a = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
    if (a != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::string_view image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

ImageFormat sniff_image_format(std::span<const uint8_t> b) {
  auto starts = [&](const char* m, size_t n, size_t at = 0) {
    return b.size() >= at + n && std::memcmp(b.data() + at, m, n) == 0;
  };
  if (starts("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (starts("\xff\xd8\xff", 3)) return ImageFormat::kJpeg;
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return ImageFormat::kGif;
  if (starts("BM", 2) && b.size() >= 18) return ImageFormat::kBmp;
  if (starts("RIFF", 4) && starts("WEBP", 4, 8)) return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

int jpeg_exif_orientation(std::span<const uint8_t> b) {
  if (b.size() < 4 || b[0] != 0xff || b[1] != 0xd8) return 0;
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (b[pos] != 0xff) return 0;
    const uint8_t m = b[pos + 1];
    if (m == 0xff) {  // fill byte
      ++pos;
      continue;
    }
    if (m == 0xda || m == 0xd9) return 0;  // image data: no EXIF before it
    if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      pos += 2;
      continue;
    }
    const size_t len = be16(b.data() + pos + 2);
    if (len < 2 || pos + 2 + len > b.size()) return 0;
    const uint8_t* seg = b.data() + pos + 4;
    const size_t n = len - 2;
    if (m == 0xe1 && n >= 14 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      const uint8_t* t = seg + 6;  // TIFF header; offsets below are relative to it
      const size_t tn = n - 6;
      const bool le = t[0] == 'I' && t[1] == 'I';
      if (!le && !(t[0] == 'M' && t[1] == 'M')) return 0;
      auto u16 = [&](size_t o) { return le ? le16(t + o) : be16(t + o); };
      auto u32 = [&](size_t o) { return le ? le32(t + o) : be32(t + o); };
      if (u16(2) != 42) return 0;
      const uint64_t ifd = u32(4);
      if (ifd + 2 > tn) return 0;
      const uint64_t count = u16(static_cast<size_t>(ifd));
      for (uint64_t i = 0; i < count; ++i) {
        const uint64_t e = ifd + 2 + 12 * i;
        if (e + 12 > tn) return 0;
        const size_t eo = static_cast<size_t>(e);
        if (u16(eo) != 0x0112) continue;
        if (u16(eo + 2) != 3 || u32(eo + 4) != 1) return 0;  // SHORT, one value
        const uint32_t v = u16(eo + 8);
        return v >= 1 && v <= 8 ? static_cast<int>(v) : 0;
      }
      return 0;
    }
    pos += 2 + len;
  }
  return 0;
}

Image apply_orientation(const Image& src, int o) {
  if (o < 2 || o > 8) return src;
  const int w = src.width, h = src.height;
  const bool swap = o >= 5;
  Image dst;
  dst.width = swap ? h : w;
  dst.height = swap ? w : h;
  dst.rgb.resize(src.rgb.size());
  for (int y = 0; y < dst.height; ++y) {
    for (int x = 0; x < dst.width; ++x) {
      int sx = x, sy = y;
      switch (o) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        case 8: sx = w - 1 - y; sy = x; break;
        default: break;
      }
      std::memcpy(dst.pixel(x, y), src.pixel(sx, sy), 3);
    }
  }
  return dst;
}

Image decode_image(std::span<const uint8_t> bytes, const ImageLimits& limits,
                   std::string_view name) {
  if (bytes.empty()) fail(name, "empty input, not an image");
  if (bytes.size() > limits.max_file_bytes || bytes.size() > 0x7fffffffu) {
    fail(name, "encoded image of " + std::to_string(bytes.size()) + " bytes exceeds the limit");
  }
  const ImageFormat fmt = sniff_image_format(bytes);
  switch (fmt) {
    case ImageFormat::kUnknown: {
      std::string hex;
      char buf[4];
      for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
        std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
        hex += buf;
      }
      fail(name, "not a supported image (PNG, JPEG, BMP, GIF, WebP): starts with bytes " + hex);
    }
    case ImageFormat::kWebp: return decode_webp(bytes, limits, name);
    case ImageFormat::kJpeg: {
      Image img = decode_stb(bytes, fmt, limits, name);
      if (limits.apply_exif_orientation) img = apply_orientation(img, jpeg_exif_orientation(bytes));
      return img;
    }
    default: return decode_stb(bytes, fmt, limits, name);
  }
}

Image load_image(const std::string& path, const ImageLimits& limits) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw Error(path + ": cannot open image: " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    if (bytes.size() + n > limits.max_file_bytes) {
      fail(path, "file larger than the limit of " + std::to_string(limits.max_file_bytes) + " bytes");
    }
    bytes.insert(bytes.end(), buf, buf + n);
  }
  if (std::ferror(f.get())) throw Error(path + ": read error");
  return decode_image(bytes, limits, path);
}

Image decode_data_url(std::string_view url, const ImageLimits& limits) {
  const std::string_view name = "data URL";
  if (!iequals_prefix(url, "data:")) fail(name, "does not start with \"data:\"");
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) fail(name, "no ',' before the payload");
  const std::string_view header = url.substr(5, comma - 5);
  const std::string_view payload = url.substr(comma + 1);
  const size_t semi = header.find(';');
  const std::string_view media = header.substr(0, semi);
  if (!media.empty() && !iequals_prefix(media, "image/")) {
    fail(name, "media type \"" + std::string(media) + "\" is not an image");
  }
  bool b64 = false;
  for (size_t p = semi; p != std::string_view::npos;) {
    const size_t next = header.find(';', p + 1);
    const std::string_view param = header.substr(p + 1, next == std::string_view::npos ? next : next - p - 1);
    if (param.size() == 6 && iequals_prefix(param, "base64")) b64 = true;
    p = next;
  }
  if (payload.size() / 4 * 3 > limits.max_file_bytes) {
    fail(name, "payload larger than the limit of " + std::to_string(limits.max_file_bytes) + " bytes");
  }
  const std::vector<uint8_t> bytes = b64 ? base64_decode(payload, name) : percent_decode(payload, name);
  return decode_image(bytes, limits, name);
}

}  // namespace omni::vision
