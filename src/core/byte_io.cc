#include "core/byte_io.h"

#include <cerrno>
#include <cstdio>

namespace omni {

void write_file_bytes(const std::string& path, std::span<const uint8_t> bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error(path + ": cannot create: " + std::strerror(errno));
  const size_t n = bytes.empty() ? 0 : std::fwrite(bytes.data(), 1, bytes.size(), f);
  const bool ok = n == bytes.size() && std::fflush(f) == 0;
  const int e = errno;
  if (std::fclose(f) != 0 || !ok) {
    throw Error(path + ": write failed: " + std::strerror(ok ? errno : e));
  }
}

}  // namespace omni
