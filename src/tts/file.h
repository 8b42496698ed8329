// Whole-file reading for voice files (configs and ONNX weights).
#pragma once

#include <string>

namespace omni::tts {

// Reads the whole file; throws omni::Error naming the path when it cannot be read.
std::string read_whole_file(const std::string& path);

}  // namespace omni::tts
