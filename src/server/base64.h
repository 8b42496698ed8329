// Base64 (RFC 4648, standard alphabet) for JSON-carried audio and images: `input_audio.data`,
// `data:` URLs in `image_url`, and `message.audio.data` in answers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace omni::server {

std::string base64_encode(std::span<const uint8_t> bytes);

// Strict decoding: padding optional, ASCII whitespace ignored, anything else outside the
// alphabet (or a length that cannot be base64) throws omni::FormatError naming `what` and the
// offset of the bad character.
std::vector<uint8_t> base64_decode(std::string_view text, const std::string& what = "base64");

// A parsed `data:[<mime>][;base64],<payload>` URL. Only base64 payloads are accepted.
struct DataUrl {
  std::string mime;  // lower-cased, e.g. "image/png"; empty if the URL gave none
  std::vector<uint8_t> bytes;
};
// Throws omni::FormatError when `url` is not a base64 data URL.
DataUrl parse_data_url(std::string_view url, const std::string& what = "data URL");

}  // namespace omni::server
