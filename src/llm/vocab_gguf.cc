// Vocab::from_gguf: reads the tokenizer.* metadata into a VocabSpec.
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "core/gguf.h"
#include "llm/vocab.h"

namespace omni::llm {
namespace {

std::string where(const gguf::File& f, std::string_view key) {
  return f.path() + ": " + std::string(key);
}

const gguf::Array* array_of(const gguf::File& f, std::string_view key, bool required) {
  const gguf::Array* a = f.get_array(key);
  if (!a && required) throw FormatError(where(f, key) + ": missing");
  return a;
}

std::vector<std::string> strings(const gguf::File& f, std::string_view key, bool required) {
  std::vector<std::string> out;
  const gguf::Array* a = array_of(f, key, required);
  if (!a) return out;
  if (a->type != gguf::ValueType::STRING) {
    throw FormatError(where(f, key) + ": expected an array of strings, got " +
                      std::string(gguf::value_type_name(a->type)));
  }
  out.reserve(a->items.size());
  for (const auto& v : a->items) out.push_back(*v.as_string());
  return out;
}

template <typename T>
std::vector<T> numbers(const gguf::File& f, std::string_view key) {
  std::vector<T> out;
  const gguf::Array* a = array_of(f, key, false);
  if (!a) return out;
  out.reserve(a->items.size());
  for (size_t i = 0; i < a->items.size(); ++i) {
    auto d = a->items[i].as_double();
    if (!d) {
      throw FormatError(where(f, key) + ": element " + std::to_string(i) + " is " +
                        std::string(gguf::value_type_name(a->items[i].type())) +
                        ", not a number");
    }
    // Range-check before converting: out-of-range float-to-integer casts are undefined.
    if constexpr (std::is_integral_v<T>) {
      const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
      const double hi = static_cast<double>(std::numeric_limits<T>::max());
      if (!(*d >= lo && *d <= hi)) {
        throw FormatError(where(f, key) + ": element " + std::to_string(i) + " out of range");
      }
    }
    if constexpr (std::is_floating_point_v<T>) {
      // Out-of-range double-to-float conversion is undefined: saturate to infinity instead.
      const double m = static_cast<double>(std::numeric_limits<T>::max());
      if (*d > m) *d = std::numeric_limits<double>::infinity();
      if (*d < -m) *d = -std::numeric_limits<double>::infinity();
    }
    out.push_back(static_cast<T>(*d));
  }
  return out;
}

std::optional<int64_t> id(const gguf::File& f, std::string_view key) { return f.get_int(key); }

}  // namespace

Vocab Vocab::from_gguf(const gguf::File& f) {
  VocabSpec s;
  const auto model = f.get_string("tokenizer.ggml.model");
  if (!model) throw FormatError(where(f, "tokenizer.ggml.model") + ": missing");
  s.model = *model;
  s.pre = f.get_string("tokenizer.ggml.pre").value_or("");
  s.name = f.get_string("general.name").value_or("");
  s.tokens = strings(f, "tokenizer.ggml.tokens", true);
  s.scores = numbers<float>(f, "tokenizer.ggml.scores");
  s.token_types = numbers<int32_t>(f, "tokenizer.ggml.token_type");
  if (s.model == "gpt2") s.merges = strings(f, "tokenizer.ggml.merges", true);
  s.bos = id(f, "tokenizer.ggml.bos_token_id");
  s.eos = id(f, "tokenizer.ggml.eos_token_id");
  s.eot = id(f, "tokenizer.ggml.eot_token_id");
  s.eom = id(f, "tokenizer.ggml.eom_token_id");
  s.unk = id(f, "tokenizer.ggml.unknown_token_id");
  s.sep = id(f, "tokenizer.ggml.seperator_token_id");  // sic: the key as llama.cpp spells it
  s.pad = id(f, "tokenizer.ggml.padding_token_id");
  s.mask = id(f, "tokenizer.ggml.mask_token_id");
  s.add_bos = f.get_bool("tokenizer.ggml.add_bos_token");
  s.add_eos = f.get_bool("tokenizer.ggml.add_eos_token");
  s.add_sep = f.get_bool("tokenizer.ggml.add_sep_token");
  s.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix");
  try {
    return Vocab(std::move(s));
  } catch (const FormatError& e) {
    throw FormatError(f.path() + ": " + e.what());
  }
}

}  // namespace omni::llm
