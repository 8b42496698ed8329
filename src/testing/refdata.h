// Test helpers: locating ../shared/refdata and the built binaries. A missing reference file is
// a hard failure, never a skip: CI must notice when the data is not where tests expect it.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "testing/build_paths.h"

namespace omni::testing {

inline std::filesystem::path refdata_dir() {
  if (const char* env = std::getenv("OMNI_REFDATA")) return env;
  return kRefdataDir;
}

// A file of the source tree (test data committed beside the tests). Not __FILE__: ccache's
// base_dir makes it relative to the build folder.
inline std::filesystem::path source_path(const std::string& rel) {
  return std::filesystem::path(kSourceDir) / rel;
}

// Path of a file under refdata; fails the test (fatally for the caller's ASSERT_NO_FATAL_FAILURE
// or via the thrown exception) if it does not exist.
inline std::string refdata(const std::string& rel) {
  const auto p = refdata_dir() / rel;
  if (!std::filesystem::exists(p)) {
    ADD_FAILURE() << "reference data missing: " << p
                  << " (tests need ../shared/refdata beside the project; set OMNI_REFDATA)";
    throw std::runtime_error("reference data missing: " + p.string());
  }
  return p.string();
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline std::vector<float> read_f32(const std::string& path) {
  const auto bytes = read_file(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

// A built program (omni, omni-gen) in the build tree of the running test binary.
inline std::string binary(const std::string& name) {
  return std::string(kBinaryDir) + "/" + name;
}

// Runs a shell command, captures stdout (and stderr when merge_stderr), returns the exit code.
inline int run_command(const std::string& cmd, std::string* out, bool merge_stderr = false) {
  const std::string full = cmd + (merge_stderr ? " 2>&1" : "");
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  if (out) out->clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
    if (out) out->append(buf, n);
  }
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace omni::testing
