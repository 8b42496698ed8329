// GGUF (v2, v3) reader and writer. The reader maps the file read-only and validates every field
// before use: a hostile or truncated file gives a FormatError naming the file, the field and the
// byte offset, never a crash or an allocation sized by an unchecked count.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/dtype.h"

namespace omni {
class Mapping;  // read-only file mapping (core/mmap.h)
}

namespace omni::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
inline constexpr int kMaxArrayNesting = 8;      // arrays of arrays deeper than this are refused
inline constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 24;  // array elements in all keys

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view value_type_name(ValueType t);

struct Value;
struct Array {
  ValueType type = ValueType::U8;  // element type (may itself be ARRAY: nested arrays)
  std::vector<Value> items;
};

// One metadata value; the alternative held matches `type()` exactly, so a file round-trips.
struct Value {
  std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
               Array, uint64_t, int64_t, double>
      v;
  ValueType type() const { return static_cast<ValueType>(v.index()); }

  // Lenient accessors for readers of hyper-parameters: any integer type that fits / any number.
  std::optional<int64_t> as_int() const;
  std::optional<uint64_t> as_uint() const;
  std::optional<double> as_double() const;
  const std::string* as_string() const;
  const Array* as_array() const;
  std::optional<bool> as_bool() const;
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // ggml ne: fastest-varying dimension first
  DType type = DType::F32;
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  // Into the mapping; valid while the File (or a copy) lives. Aligned only to the file's
  // alignment relative to the start of the file, so use unaligned-safe loads for wide types.
  const uint8_t* data = nullptr;
  std::span<const uint8_t> bytes() const { return {data, static_cast<size_t>(n_bytes)}; }
  uint64_t rows() const;  // product of shape[1..]
};

class File {
 public:
  // Maps and validates `path`. Throws omni::FormatError (bad bytes) or omni::Error (I/O).
  static File open(const std::string& path);
  // Validates bytes already in memory; `name` is used in error messages. The bytes must outlive
  // the File. This is what the fuzz target drives.
  static File parse(std::span<const uint8_t> bytes, std::string name);

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  // For a file from open(): starts reading all of it into the page cache in the background
  // (Mapping::advise_will_need). A no-op for parsed bytes.
  void advise_will_need() const;
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute file offset of tensor data
  uint64_t file_size() const { return bytes_.size(); }

  const std::vector<KeyValue>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  // Typed getters; throw FormatError naming the key if present with the wrong type.
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  const Array* get_array(std::string_view key) const;
  std::string architecture() const;  // general.architecture or ""
  // Drops a metadata key and frees its value; false if absent. For large arrays a reader has
  // consumed (a 150k-token vocabulary's strings take tens of MiB as Values).
  bool erase(std::string_view key);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(std::string_view name) const;

 private:
  std::shared_ptr<Mapping> map_;
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 3;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kv_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

// Writes a GGUF file: metadata in insertion order, then tensor infos, then the data section with
// each tensor (the last one included) padded to general.alignment (default 32) as gguf-py and
// llama.cpp write it; a file without tensors gets no padding at all. Reading a file and writing
// its contents back gives the same bytes. The whole file is built in memory.
class Writer {
 public:
  explicit Writer(uint32_t version = 3) : version_(version) {}
  void set(std::string key, Value value);  // replaces an existing key in place
  // `data` must hold exactly row_bytes(type, shape[0]) * rows bytes; it is copied. Throws
  // omni::Error on a size mismatch, more than 4 dimensions or a duplicate name.
  void add_tensor(std::string name, DType type, std::vector<uint64_t> shape,
                  std::span<const uint8_t> data);
  void write(const std::string& path) const;  // throws omni::Error on I/O failure
  // Throws omni::Error if the version is not 2 or 3 or general.alignment is not a valid U32.
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> data;
  };
  uint64_t alignment() const;
  uint32_t version_;
  std::vector<KeyValue> kv_;
  std::vector<Tensor> tensors_;
};

// Convenience constructors for metadata values.
Value make_string(std::string s);
Value make_u32(uint32_t x);
Value make_i32(int32_t x);
Value make_f32(float x);
Value make_bool(bool b);
Value make_u64(uint64_t x);
Value make_array(ValueType elem, std::vector<Value> items);  // items must all be of type elem

}  // namespace omni::gguf
