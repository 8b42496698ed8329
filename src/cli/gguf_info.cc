// `omni gguf info FILE [--json]`: describes a GGUF or whisper.cpp ggml model file. The
// description is built by libomni (core/model_info.h); this file only renders it.
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/command.h"
#include "core/model_info.h"

namespace omni::cli {
namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) {
  // Strings from a model file need not be valid UTF-8: replace bad bytes instead of throwing.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Text from a file, made safe for a terminal (no control bytes) and short.
std::string safe_text(const std::string& s, size_t max = 80) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  if (out.size() >= max) out += "...";
  return out;
}

std::string value_text(const json& v) {
  if (v.is_string()) return "\"" + safe_text(v.get<std::string>()) + "\"";
  if (v.is_object() && v.contains("array_of")) {
    std::string s = "[" + v["array_of"].get<std::string>() + " x " + dump(v["length"]) + "]";
    return s + " first: " + safe_text(dump(v["first"]), 60);
  }
  return safe_text(dump(v), 100);
}

std::string with_commas(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

std::string shape_text(const json& shape) {
  std::string s;
  for (const auto& d : shape) s += (s.empty() ? "" : " x ") + dump(d);
  return s;
}

void print_kv_section(std::ostream& os, const char* title, const json& obj) {
  os << title << ":\n";
  if (obj.empty()) os << "  (none)\n";
  for (const auto& [k, v] : obj.items()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "  %-40s ", safe_text(k, 60).c_str());
    os << buf << value_text(v) << "\n";
  }
}

void print_tensors(std::ostream& os, const json& d) {
  os << "tensors (" << dump(d["n_tensors"]) << "):\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %-40s %-8s %-22s %14s\n", "name", "type", "shape", "bytes");
  os << buf;
  for (const auto& t : d["tensors"]) {
    std::snprintf(buf, sizeof buf, "  %-40s %-8s %-22s %14s\n",
                  safe_text(t["name"].get<std::string>(), 60).c_str(),
                  t["type"].get<std::string>().c_str(), shape_text(t["shape"]).c_str(),
                  with_commas(t["bytes"].get<uint64_t>()).c_str());
    os << buf;
  }
  os << "parameters: " << with_commas(d["n_parameters"].get<uint64_t>()) << " in "
     << with_commas(d["tensor_bytes"].get<uint64_t>()) << " bytes\n";
  for (const auto& [type, tot] : d["by_type"].items()) {
    std::snprintf(buf, sizeof buf, "  %-8s %5s tensors %16s parameters %16s bytes\n",
                  type.c_str(), dump(tot["tensors"]).c_str(),
                  with_commas(tot["parameters"].get<uint64_t>()).c_str(),
                  with_commas(tot["bytes"].get<uint64_t>()).c_str());
    os << buf;
  }
}

void print_gguf(std::ostream& os, const json& d) {
  os << "file:          " << safe_text(d["file"].get<std::string>(), 200) << "\n";
  os << "format:        GGUF v" << dump(d["version"]) << " (alignment " << dump(d["alignment"])
     << ", data at byte " << dump(d["data_offset"]) << ", "
     << with_commas(d["file_size"].get<uint64_t>()) << " bytes)\n";
  const std::string arch = d["architecture"].get<std::string>();
  os << "architecture:  " << (arch.empty() ? "(none)" : safe_text(arch)) << "\n\n";
  print_kv_section(os, "hyper-parameters", d["hparams"]);
  os << "\ntokenizer:";
  const json& tok = d["tokenizer"];
  if (tok.is_null()) {
    os << " (none)\n";
  } else {
    os << "\n";
    json summary = json::object();
    for (const char* k : {"model", "pre"}) {
      if (tok.contains(k)) summary[k] = tok[k];
    }
    summary["tokens"] = tok["n_tokens"];
    summary["merges"] = tok["n_merges"];
    for (const auto& [k, v] : tok["special_tokens"].items()) summary[k] = v;
    for (const auto& [k, v] : tok.items()) {
      if (k.rfind("add_", 0) == 0) summary[k] = v;
    }
    const json& ct = tok["chat_template"];
    summary["chat_template"] = ct["present"].get<bool>()
                                   ? "present (" + dump(ct["length"]) + " bytes)"
                                   : std::string("absent");
    for (const auto& [k, v] : tok["other"].items()) summary[k] = v;
    for (const auto& [k, v] : summary.items()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "  %-40s ", safe_text(k, 60).c_str());
      os << buf << (k == "chat_template" ? v.get<std::string>() : value_text(v)) << "\n";
    }
  }
  os << "\n";
  print_kv_section(os, "metadata", d["metadata"]);
  os << "\n";
  print_tensors(os, d);
}

void print_whisper(std::ostream& os, const json& d) {
  os << "file:          " << safe_text(d["file"].get<std::string>(), 200) << "\n";
  os << "format:        whisper.cpp ggml (" << with_commas(d["file_size"].get<uint64_t>())
     << " bytes)\n";
  os << "architecture:  whisper\n\n";
  print_kv_section(os, "hyper-parameters", d["hparams"]);
  os << "\nmel filters:   " << dump(d["mel_filters"]["n_mel"]) << " x "
     << dump(d["mel_filters"]["n_fft"]) << " float32\n";
  os << "vocabulary:    " << dump(d["vocab"]["n_tokens"]) << " tokens stored\n\n";
  print_tensors(os, d);
}

struct Options {
  std::string file;
  bool json = false;
};

void run(const Options& o) {
  const json d = describe_model_file(o.file);
  if (o.json) {
    std::cout << d.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return;
  }
  std::ostringstream os;
  if (d["format"] == "gguf") {
    print_gguf(os, d);
  } else {
    print_whisper(os, d);
  }
  std::cout << os.str();
}

const RegisterCommand kRegister([](CLI::App& app) {
  auto* gguf = app.add_subcommand("gguf", "Inspect model files (GGUF, whisper.cpp ggml)");
  gguf->require_subcommand(1);
  auto* info = gguf->add_subcommand(
      "info", "Describe a GGUF or whisper ggml model: metadata, tokenizer, tensors, parameters");
  auto opts = std::make_shared<Options>();
  info->add_option("file", opts->file, "model file (.gguf or whisper.cpp ggml .bin)")->required();
  info->add_flag("--json", opts->json, "print one JSON object instead of text");
  info->callback([opts] { run(*opts); });
});

}  // namespace
}  // namespace omni::cli
