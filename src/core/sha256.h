// SHA-256 (FIPS 180-4), incremental: `omni pull` hashes a download as it arrives (and the
// already-downloaded part of a resumed file) without reading it twice.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace omni {

class Sha256 {
 public:
  Sha256() { reset(); }
  void reset();
  void update(std::span<const uint8_t> bytes);
  void update(std::string_view s) {
    update({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
  // Finishes the hash; the object must be reset() before it is used again.
  std::array<uint8_t, 32> digest();
  // Lower-case hex of digest().
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_{};
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes fed so far
};

std::string sha256_hex(std::string_view bytes);
// Hashes a whole file. Throws omni::Error naming the file if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace omni
