// Read-only memory mapping of a whole file. Model files are mapped rather than read so that
// loading costs no copy and pages are shared between processes.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace omni {

class Mapping {
 public:
  // Maps `path` read-only. Throws omni::Error naming the file if it cannot be opened or mapped.
  // An empty file gives an empty mapping.
  explicit Mapping(const std::string& path);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

  // Asks the kernel to start reading the whole file into the page cache now, in large requests,
  // while the caller does other work: the page faults of a first pass over a cold file are
  // otherwise served a small readahead window at a time. Skipped for files larger than half of
  // physical memory, which would only push other pages out. Advisory: errors are ignored.
  void advise_will_need() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace omni
