// Broken variants of a real model file, written to the temp folder, for bad-input tests of the
// library and the CLI: a copy under another architecture name and a truncated copy.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/gguf.h"
#include "testing/refdata.h"

namespace omni::testing {

// A per-process path in the temp folder (tests run in parallel).
inline std::string temp_model_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("omni_" + std::to_string(::getpid()) + "_" + name + ".gguf"))
      .string();
}

// `src` with general.architecture set to `arch` (every other key and tensor as is).
inline std::string write_with_architecture(const std::string& src, const std::string& arch) {
  const gguf::File f = gguf::File::open(src);
  gguf::Writer w(f.version());
  for (const auto& kv : f.metadata()) w.set(kv.key, kv.value);
  w.set("general.architecture", gguf::make_string(arch));
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.shape, t.bytes());
  const std::string out = temp_model_path("arch_" + arch);
  w.write(out);
  return out;
}

// The first `keep` bytes of `src` (the tensor data of the last tensors then lies past the end).
inline std::string write_truncated(const std::string& src, size_t keep) {
  const auto bytes = read_file(src);
  const std::string out = temp_model_path("truncated_" + std::to_string(keep));
  std::ofstream(out, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(std::min(keep, bytes.size())));
  return out;
}

}  // namespace omni::testing
