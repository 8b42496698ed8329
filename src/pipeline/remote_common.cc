#include "pipeline/remote.h"

#include <cstdlib>

namespace omni::pipeline {

std::string RemoteEndpoint::endpoint(const std::string& path) const {
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.ends_with("/v1")) base.resize(base.size() - 3);
  return base + "/v1/" + path;
}

RemoteEndpoint remote_endpoint_from_config(const Config& config, const std::string& section) {
  RemoteEndpoint ep;
  ep.url = config.str(section + ".url");
  ep.model = config.str(section + ".remote_model");
  const std::string& env = config.str(section + ".api_key_env");
  if (!env.empty()) {
    if (const char* key = std::getenv(env.c_str())) ep.api_key = key;
  }
  return ep;
}

std::string base64_encode(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(bytes[i + 2])};
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace omni::pipeline
