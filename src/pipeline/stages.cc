#include "pipeline/stages.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace omni::pipeline {
namespace {

// Image types by magic bytes; "" when unknown (the decoder then reports the format error).
std::string sniff_mime(const std::vector<uint8_t>& b) {
  auto starts = [&](std::string_view magic) {
    return b.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), b.begin(),
                      [](char c, uint8_t u) { return static_cast<uint8_t>(c) == u; });
  };
  if (starts("\x89PNG\r\n\x1a\n")) return "image/png";
  if (starts("\xff\xd8\xff")) return "image/jpeg";
  if (starts("GIF87a") || starts("GIF89a")) return "image/gif";
  if (starts("BM")) return "image/bmp";
  if (b.size() >= 12 && starts("RIFF") && std::string_view(reinterpret_cast<const char*>(&b[8]), 4) == "WEBP") {
    return "image/webp";
  }
  return "";
}

}  // namespace

ImageInput ImageInput::from_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open image file");
  ImageInput img;
  uint8_t buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) img.bytes.insert(img.bytes.end(), buf, buf + n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw Error(path + ": read error");
  if (img.bytes.empty()) throw Error(path + ": image file is empty");
  img.mime = sniff_mime(img.bytes);
  img.source = path;
  return img;
}

std::string UserMessage::joined_text() const {
  std::string out;
  for (const auto& p : parts) {
    if (p.image || p.text.empty()) continue;
    if (!out.empty()) out += '\n';
    out += p.text;
  }
  return out;
}

bool UserMessage::has_images() const {
  for (const auto& p : parts) {
    if (p.image) return true;
  }
  return false;
}

}  // namespace omni::pipeline
