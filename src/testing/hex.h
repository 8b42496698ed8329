// Lower-case hex of a byte string: compares text byte for byte with goldens that store it so.
#pragma once

#include <string>

namespace omni::testing {

inline std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(2 * s.size());
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

}  // namespace omni::testing
