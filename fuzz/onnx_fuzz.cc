// Fuzzes the ONNX reader and the Piper VITS weight mapping: any bytes must give a model or an
// omni::Error, never a crash, hang or unbounded allocation.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "tts/onnx.h"
#include "tts/vits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const omni::tts::onnx::Model m = omni::tts::onnx::parse_model({data, size}, "fuzz.onnx");
    omni::tts::VitsModel::from_onnx(m, "fuzz.onnx");
  } catch (const omni::Error&) {
  }
  return 0;
}
