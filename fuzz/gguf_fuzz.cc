// libFuzzer target: GGUF parsing from memory. Every field the parser accepted is then read in
// full (metadata values, every tensor byte range) so that a wrong bounds check surfaces under
// ASan as an out-of-bounds read instead of passing silently.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "core/gguf.h"

namespace {

volatile uint64_t g_sink;

uint64_t touch(const omni::gguf::Value& v) {
  uint64_t h = static_cast<uint64_t>(v.type());
  if (const auto* s = v.as_string()) {
    for (char c : *s) h = h * 31 + static_cast<uint8_t>(c);
  } else if (const auto* a = v.as_array()) {
    for (const auto& item : a->items) h += touch(item);
  } else if (auto d = v.as_double()) {
    h += static_cast<uint64_t>(*d != 0);
  }
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = omni::gguf::File::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
    uint64_t h = f.alignment() + f.data_offset();
    for (const auto& kv : f.metadata()) {
      h += kv.key.size() + touch(kv.value);
      if (f.find(kv.key) != &kv.value) __builtin_trap();
    }
    (void)f.architecture();
    for (const auto& t : f.tensors()) {
      if (f.tensor(t.name) != &t) __builtin_trap();
      const auto b = t.bytes();
      if (!b.empty()) h += b.front() + b.back();
      for (size_t i = 0; i < b.size(); i += 4096) h += b[i];
      h += t.rows() + t.n_elements;
    }
    g_sink = h;
  } catch (const omni::FormatError&) {
    // Rejected input: the expected outcome for most mutations.
  }
  return 0;
}
