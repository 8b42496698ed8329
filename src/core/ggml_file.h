// whisper.cpp's legacy `ggml` model files (magic "ggml"): reader and writer.
//
// Layout (all integers int32 little-endian): magic 0x67676d6c; 11 hyper-parameters; mel filter
// bank (n_mel, n_fft, n_mel*n_fft float32); vocabulary (count, then per token a uint32 length and
// the bytes); then tensors until the end of the file, each: n_dims, name length, type, ne[n_dims]
// (fastest dimension first), name, raw data. Tensor data is NOT aligned.
//
// The reader validates every field before use, like the GGUF reader: a hostile file gives an
// omni::FormatError naming the file, the field and the byte offset.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"

namespace omni {
class Mapping;
}

namespace omni::ggml {

inline constexpr uint32_t kMagic = 0x67676d6c;  // "ggml" read as a little-endian uint32
inline constexpr uint32_t kMaxDims = 4;
// whisper.cpp stores the quantization version in the ftype field as ftype + 1000 * version.
inline constexpr int32_t kQuantVersionFactor = 1000;

// Field names as whisper.cpp's whisper_hparams spells them, in file order.
struct Hparams {
  int32_t n_vocab = 0;
  int32_t n_audio_ctx = 0;
  int32_t n_audio_state = 0;
  int32_t n_audio_head = 0;
  int32_t n_audio_layer = 0;
  int32_t n_text_ctx = 0;
  int32_t n_text_state = 0;
  int32_t n_text_head = 0;
  int32_t n_text_layer = 0;
  int32_t n_mels = 0;
  int32_t ftype = 0;  // as stored: ggml_ftype + 1000 * quantization version

  int32_t ftype_base() const { return ftype % kQuantVersionFactor; }  // ggml_ftype
  int32_t quant_version() const { return ftype / kQuantVersionFactor; }
  // The tensor type ggml_ftype stands for ("mostly" that type; norms and biases stay f32).
  DType weight_type() const;
};

struct MelFilters {
  int32_t n_mel = 0;
  int32_t n_fft = 0;
  std::vector<float> data;  // n_mel rows of n_fft values
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // ggml ne: fastest-varying dimension first
  DType type = DType::F32;
  uint64_t offset = 0;  // absolute file offset of the data
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  // Into the file bytes; valid while the File (or a copy) lives. NOT aligned: the format packs
  // tensors back to back, so read wide values with memcpy or unaligned-safe loads.
  const uint8_t* data = nullptr;
  std::span<const uint8_t> bytes() const { return {data, static_cast<size_t>(n_bytes)}; }
  uint64_t rows() const;  // product of shape[1..]
};

// Tensor types whisper.cpp writes into these files: f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0.
bool is_supported_tensor_type(DType t);

class File {
 public:
  // Maps and validates `path`. Throws omni::FormatError (bad bytes) or omni::Error (I/O).
  static File open(const std::string& path);
  // Validates bytes already in memory (they must outlive the File); `name` is used in messages.
  static File parse(std::span<const uint8_t> bytes, std::string name);

  const std::string& path() const { return name_; }
  uint64_t file_size() const { return bytes_.size(); }
  const Hparams& hparams() const { return hparams_; }
  const MelFilters& mel_filters() const { return filters_; }
  const std::vector<std::string>& vocab() const { return vocab_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(std::string_view name) const;

 private:
  std::shared_ptr<Mapping> map_;
  std::span<const uint8_t> bytes_;
  std::string name_;
  Hparams hparams_;
  MelFilters filters_;
  std::vector<std::string> vocab_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Builds a whisper ggml file: hyper-parameters, filters and vocabulary up front, then tensors in
// the order they are added. Reading a file and writing its parts back gives the same bytes.
class Writer {
 public:
  Writer(Hparams hparams, MelFilters filters, std::vector<std::string> vocab);
  // `data` must hold exactly row_bytes(type, shape[0]) * rows bytes; it is copied. Throws
  // omni::Error on a bad shape, an unsupported type or a duplicate name.
  void add_tensor(std::string name, DType type, std::vector<uint64_t> shape,
                  std::span<const uint8_t> data);
  std::vector<uint8_t> to_bytes() const;
  void write(const std::string& path) const;  // throws omni::Error on I/O failure

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> data;
  };
  Hparams hparams_;
  MelFilters filters_;
  std::vector<std::string> vocab_;
  std::vector<Tensor> tensors_;
};

}  // namespace omni::ggml
