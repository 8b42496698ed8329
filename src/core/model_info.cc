#include "core/model_info.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/mmap.h"

namespace omni {
namespace {

using json = nlohmann::ordered_json;

json scalar_to_json(const gguf::Value& v) {
  return std::visit(
      [](const auto& x) -> json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, gguf::Array>) {
          return nullptr;  // handled by the caller
        } else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, uint16_t> ||
                             std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>) {
          return static_cast<uint64_t>(x);
        } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<int64_t>(x);
        } else if constexpr (std::is_same_v<T, float>) {
          // Widen through the shortest decimal form so 1e-5f prints as 1e-05, not 9.99999974e-06.
          char buf[32];
          const auto r = std::to_chars(buf, buf + sizeof buf, x);
          if (r.ec != std::errc() || !std::isfinite(x)) return static_cast<double>(x);
          return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
        } else {
          return x;  // bool, double, string
        }
      },
      v.v);
}

// Tensor table rows and per-type totals, shared by both formats.
template <class Tensor>
void add_tensors(json& out, const std::vector<Tensor>& tensors) {
  json table = json::array();
  struct Totals {
    uint64_t tensors = 0, parameters = 0, bytes = 0;
  };
  std::map<std::string, Totals> by_type;
  uint64_t params = 0, bytes = 0;
  for (const auto& t : tensors) {
    const std::string type(dtype_name(t.type));
    table.push_back({{"name", t.name},
                     {"type", type},
                     {"shape", t.shape},
                     {"n_elements", t.n_elements},
                     {"bytes", t.n_bytes},
                     {"offset", t.offset}});
    auto& tot = by_type[type];
    ++tot.tensors;
    tot.parameters += t.n_elements;
    tot.bytes += t.n_bytes;
    params += t.n_elements;
    bytes += t.n_bytes;
  }
  json types = json::object();
  for (const auto& [name, tot] : by_type) {
    types[name] = {{"tensors", tot.tensors}, {"parameters", tot.parameters}, {"bytes", tot.bytes}};
  }
  out["n_tensors"] = tensors.size();
  out["n_parameters"] = params;
  out["tensor_bytes"] = bytes;
  out["by_type"] = std::move(types);
  out["tensors"] = std::move(table);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

}  // namespace

json gguf_value_to_json(const gguf::Value& v) {
  const gguf::Array* a = v.as_array();
  if (!a) return scalar_to_json(v);
  const bool nested = a->type == gguf::ValueType::ARRAY;
  if (a->items.size() <= kMaxListedArrayItems) {
    json items = json::array();
    for (const auto& item : a->items) items.push_back(gguf_value_to_json(item));
    return items;
  }
  json first = json::array();
  for (size_t i = 0; i < 4; ++i) first.push_back(gguf_value_to_json(a->items[i]));
  return {{"array_of", nested ? "array" : std::string(gguf::value_type_name(a->type))},
          {"length", a->items.size()},
          {"first", std::move(first)}};
}

ModelFormat detect_model_format(const std::string& path) {
  const Mapping m(path);
  const auto b = m.bytes();
  if (b.size() < 4) {
    throw FormatError(path + ": magic: file of " + std::to_string(b.size()) +
                      " bytes is too short for a model file (at byte 0)");
  }
  uint32_t magic;
  std::memcpy(&magic, b.data(), 4);
  if (magic == gguf::kMagic) return ModelFormat::kGguf;
  if (magic == ggml::kMagic) return ModelFormat::kWhisperGgml;
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08x", magic);
  throw FormatError(path + ": magic: " + hex +
                    " is neither GGUF (0x46554747) nor whisper ggml (0x67676d6c) (at byte 0)");
}

json describe_gguf(const gguf::File& f) {
  json out;
  out["file"] = f.path();
  out["format"] = "gguf";
  out["version"] = f.version();
  out["file_size"] = f.file_size();
  out["alignment"] = f.alignment();
  out["data_offset"] = f.data_offset();
  const std::string arch = f.architecture();
  out["architecture"] = arch;

  json hparams = json::object();
  json tokenizer = json::object();
  json other = json::object();
  json token_ids = json::object();
  json tok_other = json::object();
  const std::string arch_prefix = arch + ".";
  for (const auto& kv : f.metadata()) {
    const std::string& k = kv.key;
    const gguf::Value& v = kv.value;
    if (!arch.empty() && starts_with(k, arch_prefix)) {
      hparams[k] = gguf_value_to_json(v);
    } else if (k == "tokenizer.chat_template") {
      const std::string* s = v.as_string();
      tokenizer["chat_template"] = {{"present", true},
                                    {"length", s ? s->size() : 0}};
    } else if (starts_with(k, "tokenizer.ggml.")) {
      const std::string name = k.substr(15);
      if (name == "tokens" || name == "merges") {
        const gguf::Array* a = v.as_array();
        tokenizer[name == "tokens" ? "n_tokens" : "n_merges"] = a ? a->items.size() : 0;
      } else if (name == "model" || name == "pre") {
        tokenizer[name] = gguf_value_to_json(v);
      } else if (ends_with(name, "_token_id")) {
        token_ids[name] = gguf_value_to_json(v);
      } else if (starts_with(name, "add_")) {
        tokenizer[name] = gguf_value_to_json(v);
      } else {
        tok_other[k] = gguf_value_to_json(v);
      }
    } else if (starts_with(k, "tokenizer.")) {
      tok_other[k] = gguf_value_to_json(v);
    } else {
      other[k] = gguf_value_to_json(v);
    }
  }
  const bool has_tokenizer = !tokenizer.empty() || !token_ids.empty() || !tok_other.empty();
  if (has_tokenizer) {
    for (const char* k : {"model", "pre"}) {
      if (!tokenizer.contains(k)) tokenizer[k] = nullptr;
    }
    if (!tokenizer.contains("n_tokens")) tokenizer["n_tokens"] = 0;
    if (!tokenizer.contains("n_merges")) tokenizer["n_merges"] = 0;
    if (!tokenizer.contains("chat_template")) {
      tokenizer["chat_template"] = {{"present", false}, {"length", 0}};
    }
    tokenizer["special_tokens"] = std::move(token_ids);
    tokenizer["other"] = std::move(tok_other);
  }
  out["hparams"] = std::move(hparams);
  out["tokenizer"] = has_tokenizer ? std::move(tokenizer) : json(nullptr);
  out["metadata"] = std::move(other);
  add_tensors(out, f.tensors());
  return out;
}

json describe_whisper_ggml(const ggml::File& f) {
  json out;
  const ggml::Hparams& h = f.hparams();
  out["file"] = f.path();
  out["format"] = "whisper-ggml";
  out["file_size"] = f.file_size();
  out["architecture"] = "whisper";
  out["hparams"] = {{"n_vocab", h.n_vocab},
                    {"n_audio_ctx", h.n_audio_ctx},
                    {"n_audio_state", h.n_audio_state},
                    {"n_audio_head", h.n_audio_head},
                    {"n_audio_layer", h.n_audio_layer},
                    {"n_text_ctx", h.n_text_ctx},
                    {"n_text_state", h.n_text_state},
                    {"n_text_head", h.n_text_head},
                    {"n_text_layer", h.n_text_layer},
                    {"n_mels", h.n_mels},
                    {"ftype", h.ftype},
                    {"quant_version", h.quant_version()},
                    {"weight_type", std::string(dtype_name(h.weight_type()))}};
  out["mel_filters"] = {{"n_mel", f.mel_filters().n_mel}, {"n_fft", f.mel_filters().n_fft}};
  out["vocab"] = {{"n_tokens", f.vocab().size()}};
  add_tensors(out, f.tensors());
  return out;
}

json describe_model_file(const std::string& path) {
  switch (detect_model_format(path)) {
    case ModelFormat::kGguf: return describe_gguf(gguf::File::open(path));
    case ModelFormat::kWhisperGgml: return describe_whisper_ggml(ggml::File::open(path));
  }
  return nullptr;
}

}  // namespace omni
