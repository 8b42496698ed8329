// A structured description of a model file (what `omni gguf info` prints): format, architecture,
// hyper-parameters, tokenizer summary, other metadata (long arrays summarized), tensor table,
// parameter and byte counts per type. Works on GGUF and whisper.cpp ggml files.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "core/ggml_file.h"
#include "core/gguf.h"

namespace omni {

enum class ModelFormat { kGguf, kWhisperGgml };

// Detects the container by its magic. Throws omni::FormatError for anything else (naming the
// file and the magic found) and omni::Error if the file cannot be read.
ModelFormat detect_model_format(const std::string& path);

// JSON object with the fields described in docs (see `omni gguf info --json`).
nlohmann::ordered_json describe_gguf(const gguf::File& f);
nlohmann::ordered_json describe_whisper_ggml(const ggml::File& f);
// Opens `path` (either format) and describes it.
nlohmann::ordered_json describe_model_file(const std::string& path);

// Arrays longer than this are summarized (type, length, first items) instead of listed.
inline constexpr size_t kMaxListedArrayItems = 16;
nlohmann::ordered_json gguf_value_to_json(const gguf::Value& v);

}  // namespace omni
