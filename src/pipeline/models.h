// What is in the models folder (`omni models`): each file's kind, told from its bytes, and
// which configured stage uses it. Partial downloads (*.part) and a voice's .onnx.json are not
// listed on their own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/config.h"

namespace omni::pipeline {

struct InstalledModel {
  std::string name;    // file name
  std::string path;
  uint64_t size = 0;   // bytes (a Piper voice: model + config)
  std::string kind;    // llm, mmproj, asr, tts, unknown
  std::string detail;  // "GGUF qwen2", "whisper.cpp ggml", "Piper voice, 22050 Hz, en_US", error
  std::vector<std::string> used_by;  // config keys naming this file (llm.model, ...)
};

// Describes one file. Never throws for bad bytes: the kind is then "unknown" and detail says why.
InstalledModel describe_installed(const std::string& path);

// All models in `dir` (sorted by name), marked with the config keys that refer to them. A
// missing folder gives an empty list.
std::vector<InstalledModel> list_installed(const std::string& dir, const Config& config);

}  // namespace omni::pipeline
