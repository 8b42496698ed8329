// Test and benchmark helper: renders known text into an RGB image with stb_truetype and a font
// from a Debian package (fonts-dejavu-core, fonts-noto-cjk), so OCR tests need no committed
// images. Include from one file per binary (it compiles stb_truetype's implementation, with
// internal linkage). Failures throw std::runtime_error (a test that throws fails).
#pragma once

#define STB_TRUETYPE_IMPLEMENTATION
#define STBTT_STATIC
#include <stb/stb_truetype.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace omni::testing {
// Internal linkage like the stb functions they call, so several test files may include this.
namespace {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

// Finds a system font by file name under /usr/share/fonts; a missing font fails the test.
inline std::string system_font(const std::string& file_name) {
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it("/usr/share/fonts", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().filename() == file_name) return it->path().string();
  }
  throw std::runtime_error("font " + file_name +
                           " not found under /usr/share/fonts (packages fonts-dejavu-core, fonts-noto-cjk)");
}

inline std::vector<uint32_t> utf8_codepoints(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = n == 1 ? c : c & (0x3F >> (n - 1));
    for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += static_cast<size_t>(n);
  }
  return out;
}

// Black text on white, one line per entry, `px` pixels tall, with a margin around.
inline RgbImage render_text(const std::string& font_path, const std::vector<std::string>& lines, float px) {
  std::ifstream f(font_path, std::ios::binary);
  const std::vector<uint8_t> font_file{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  if (font_file.empty()) throw std::runtime_error("cannot read font " + font_path);
  stbtt_fontinfo font;
  const int offset = stbtt_GetFontOffsetForIndex(font_file.data(), 0);
  if (offset < 0 || !stbtt_InitFont(&font, font_file.data(), offset)) {
    throw std::runtime_error("not a font: " + font_path);
  }
  const float scale = stbtt_ScaleForPixelHeight(&font, px);
  int ascent = 0, descent = 0, gap = 0;
  stbtt_GetFontVMetrics(&font, &ascent, &descent, &gap);
  const int line_h = static_cast<int>((ascent - descent + gap) * scale * 1.3f);
  const int margin = static_cast<int>(px);
  int width = 0;
  for (const auto& l : lines) {
    float x = 0;
    for (const uint32_t cp : utf8_codepoints(l)) {
      int adv = 0, lsb = 0;
      stbtt_GetCodepointHMetrics(&font, static_cast<int>(cp), &adv, &lsb);
      x += adv * scale;
    }
    width = std::max(width, static_cast<int>(x) + 1);
  }
  RgbImage img;
  img.width = width + 2 * margin;
  img.height = line_h * static_cast<int>(lines.size()) + 2 * margin;
  std::vector<uint8_t> ink(size_t(img.width) * size_t(img.height), 0);
  for (size_t li = 0; li < lines.size(); ++li) {
    const int baseline = margin + static_cast<int>(li) * line_h + static_cast<int>(ascent * scale);
    float x = static_cast<float>(margin);
    const auto cps = utf8_codepoints(lines[li]);
    for (size_t i = 0; i < cps.size(); ++i) {
      const int cp = static_cast<int>(cps[i]);
      int adv = 0, lsb = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
      stbtt_GetCodepointHMetrics(&font, cp, &adv, &lsb);
      stbtt_GetCodepointBitmapBox(&font, cp, scale, scale, &x0, &y0, &x1, &y1);
      const int gw = x1 - x0, gh = y1 - y0;
      if (gw > 0 && gh > 0) {
        std::vector<uint8_t> glyph(size_t(gw) * size_t(gh));
        stbtt_MakeCodepointBitmap(&font, glyph.data(), gw, gh, gw, scale, scale, cp);
        const int ox = static_cast<int>(x) + x0, oy = baseline + y0;
        for (int y = 0; y < gh; ++y) {
          for (int gx = 0; gx < gw; ++gx) {
            const int px_x = ox + gx, px_y = oy + y;
            if (px_x < 0 || px_y < 0 || px_x >= img.width || px_y >= img.height) continue;
            uint8_t& d = ink[size_t(px_y) * size_t(img.width) + size_t(px_x)];
            d = std::max(d, glyph[size_t(y) * size_t(gw) + size_t(gx)]);
          }
        }
      }
      x += adv * scale;
      if (i + 1 < cps.size()) x += scale * stbtt_GetCodepointKernAdvance(&font, cp, static_cast<int>(cps[i + 1]));
    }
  }
  img.rgb.resize(ink.size() * 3);
  for (size_t i = 0; i < ink.size(); ++i) img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = 255 - ink[i];
  return img;
}

}  // namespace
}  // namespace omni::testing
