#include "pipeline/models.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/gguf.h"
#include "core/model_info.h"

namespace omni::pipeline {
namespace fs = std::filesystem;

InstalledModel describe_installed(const std::string& path) {
  InstalledModel m;
  m.path = path;
  m.name = fs::path(path).filename().string();
  std::error_code ec;
  m.size = fs::file_size(path, ec);
  m.kind = "unknown";
  try {
    if (m.name.ends_with(".onnx")) {
      const std::string cfg = path + ".json";
      std::ifstream f(cfg);
      if (!f) {
        m.detail = "ONNX file without its .onnx.json (not a usable Piper voice)";
        return m;
      }
      const auto j = nlohmann::json::parse(f, nullptr, false);
      if (!j.is_object()) {
        m.detail = cfg + ": not valid JSON";
        return m;
      }
      m.kind = "tts";
      m.size += fs::file_size(cfg, ec);
      m.detail = "Piper voice";
      const auto rate = j.value("/audio/sample_rate"_json_pointer, nlohmann::json());
      if (rate.is_number_integer()) m.detail += ", " + std::to_string(rate.get<int64_t>()) + " Hz";
      const auto lang = j.value("/language/code"_json_pointer, nlohmann::json());
      if (lang.is_string()) m.detail += ", " + lang.get<std::string>();
      const auto speakers = j.value("num_speakers", nlohmann::json());
      if (speakers.is_number_integer() && speakers.get<int64_t>() > 1) {
        m.detail += ", " + std::to_string(speakers.get<int64_t>()) + " speakers";
      }
      return m;
    }
    switch (detect_model_format(path)) {
      case ModelFormat::kGguf: {
        const gguf::File g = gguf::File::open(path);
        const std::string arch = g.architecture();
        const bool vision = arch == "clip" || g.find("clip.has_vision_encoder") != nullptr;
        m.kind = vision ? "mmproj" : "llm";
        m.detail = "GGUF " + (arch.empty() ? std::string("(no architecture)") : arch);
        if (auto proj = g.get_string("clip.projector_type")) m.detail += ", projector " + *proj;
        if (auto name = g.get_string("general.name")) m.detail += ", " + *name;
        m.detail += ", " + std::to_string(g.tensors().size()) + " tensors";
        break;
      }
      case ModelFormat::kWhisperGgml:
        m.kind = "asr";
        m.detail = "whisper.cpp ggml";
        break;
    }
  } catch (const Error& e) {
    m.kind = "unknown";
    m.detail = e.what();
  }
  return m;
}

std::vector<InstalledModel> list_installed(const std::string& dir, const Config& config) {
  std::vector<InstalledModel> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    if (!de.is_regular_file(ec)) continue;
    const std::string name = de.path().filename().string();
    if (name.ends_with(".part") || name.ends_with(".onnx.json")) continue;
    if (name.starts_with(".")) continue;
    InstalledModel m = describe_installed(de.path().string());
    for (const char* key : {"llm.model", "asr.model", "tts.voice", "vision.mmproj"}) {
      const std::string& v = config.str(key);
      if (v.empty()) continue;
      const fs::path p(v);
      const bool same = p == de.path() || v == name ||
                        (p.has_parent_path() && fs::equivalent(p, de.path(), ec)) ||
                        de.path().stem().string() == v;
      if (same) m.used_by.push_back(key);
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace omni::pipeline
