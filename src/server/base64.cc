#include "server/base64.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace omni::server {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr auto kTable = make_table();

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

std::string base64_encode(std::span<const uint8_t> b) {
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    const uint32_t v = uint32_t{b[i]} << 16 | uint32_t{b[i + 1]} << 8 | b[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == b.size()) {
    const uint32_t v = uint32_t{b[i]} << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == b.size()) {
    const uint32_t v = uint32_t{b[i]} << 16 | uint32_t{b[i + 1]} << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::vector<uint8_t> base64_decode(std::string_view text, const std::string& what) {
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int n = 0;         // sextets in acc
  size_t pads = 0;   // '=' seen (only at the end)
  size_t digits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_space(c)) continue;
    if (c == '=') {
      ++pads;
      if (pads > 2) throw FormatError(what + ": too much '=' padding at offset " + std::to_string(i));
      continue;
    }
    const int8_t v = kTable[static_cast<uint8_t>(c)];
    if (v < 0 || pads > 0) {
      throw FormatError(what + ": invalid base64 character at offset " + std::to_string(i));
    }
    ++digits;
    acc = acc << 6 | static_cast<uint32_t>(v);
    if (++n == 4) {
      out.push_back(static_cast<uint8_t>(acc >> 16));
      out.push_back(static_cast<uint8_t>(acc >> 8));
      out.push_back(static_cast<uint8_t>(acc));
      acc = 0;
      n = 0;
    }
  }
  if (n == 1) throw FormatError(what + ": truncated base64 (" + std::to_string(digits) + " digits)");
  if (n == 2) out.push_back(static_cast<uint8_t>(acc >> 4));
  if (n == 3) {
    out.push_back(static_cast<uint8_t>(acc >> 10));
    out.push_back(static_cast<uint8_t>(acc >> 2));
  }
  if (pads > 0 && (n + pads) % 4 != 0) {
    throw FormatError(what + ": base64 padding does not match its length");
  }
  return out;
}

DataUrl parse_data_url(std::string_view url, const std::string& what) {
  if (url.size() < 5 || url.substr(0, 5) != "data:") {
    throw FormatError(what + ": not a data: URL");
  }
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) throw FormatError(what + ": data: URL without ','");
  std::string meta(url.substr(5, comma - 5));
  for (char& c : meta) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!meta.ends_with(";base64")) throw FormatError(what + ": only base64 data: URLs are supported");
  DataUrl d;
  d.mime = meta.substr(0, meta.find(';'));
  d.bytes = base64_decode(url.substr(comma + 1), what);
  return d;
}

}  // namespace omni::server
