// Random-weight Piper (VITS) voices of any channel width, made from a template voice of the
// real architecture: the template's graph is copied node for node and every channel-sized
// piece (initializer shapes, the few shape constants the exporter baked in: head size, flow
// split sizes, WaveNet slice bounds, sqrt(channels) scale factors, depthwise group counts) is
// re-sized. So ONNX Runtime and our engine can be compared on a "medium" voice without
// shipping a 63 MB file.
#pragma once

#include <cstdint>
#include <string>

namespace omni::gen {

struct PiperShape {
  int hidden = 192;   // hidden = inter = duration-predictor filter channels (Piper ties them)
  int filter = 768;   // encoder FFN channels
  int decoder = 256;  // HiFi-GAN initial channels (halved at each of the 3 upsamplers)
};

struct PiperGenOptions {
  std::string from;  // template voice (.onnx; its .onnx.json is copied next to the output)
  uint64_t seed = 1;
};

// Writes `path` (.onnx) and `path` + ".json". The template must be a single-speaker Piper
// export; its own widths are read from its initializers.
void generate_piper(const PiperShape& shape, const PiperGenOptions& opts, const std::string& path);

}  // namespace omni::gen
