// libFuzzer target: whisper.cpp ggml model parsing from memory. Reads back every accepted field
// and tensor byte range so that a wrong bounds check shows up under ASan.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "core/ggml_file.h"

namespace {
volatile uint64_t g_sink;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = omni::ggml::File::parse(std::span<const uint8_t>(data, size), "fuzz.bin");
    const auto& h = f.hparams();
    uint64_t sum = static_cast<uint64_t>(h.n_vocab) + h.ftype_base() + h.quant_version() +
                   static_cast<uint32_t>(h.weight_type());
    for (float x : f.mel_filters().data) sum += x != 0.0f;
    for (const auto& tok : f.vocab()) {
      for (char c : tok) sum = sum * 31 + static_cast<uint8_t>(c);
    }
    for (const auto& t : f.tensors()) {
      if (f.tensor(t.name) != &t) __builtin_trap();
      const auto b = t.bytes();
      if (!b.empty()) sum += b.front() + b.back();
      for (size_t i = 0; i < b.size(); i += 4096) sum += b[i];
      sum += t.rows() + t.n_elements + t.offset;
    }
    g_sink = sum;
  } catch (const omni::FormatError&) {
  }
  return 0;
}
