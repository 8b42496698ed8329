// Bounds-checked little-endian reader over untrusted bytes, shared by the model container
// parsers. Every read names the field it is reading so that a failure becomes a FormatError of
// the form "<file>: <field>: <problem> (at byte <offset>)". Field names are produced lazily (a
// callable returning std::string) so that the hot path of large vocabularies builds no strings.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace omni {

static_assert(std::endian::native == std::endian::little,
              "model containers are read with little-endian loads");

// "<file>: <field>: <problem> (at byte <offset>)"
inline FormatError format_error(std::string_view file, std::string_view field,
                                std::string_view problem, uint64_t offset) {
  std::string m;
  m.reserve(file.size() + field.size() + problem.size() + 32);
  m.append(file).append(": ").append(field).append(": ").append(problem);
  m.append(" (at byte ").append(std::to_string(offset)).append(")");
  return FormatError(m);
}

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, std::string_view file) : b_(bytes), file_(file) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return b_.size(); }
  uint64_t remaining() const { return b_.size() - pos_; }
  bool at_end() const { return pos_ == b_.size(); }
  std::string_view file() const { return file_; }

  template <class FieldFn>
  [[noreturn]] void fail(const FieldFn& field, std::string_view problem, uint64_t at) const {
    throw format_error(file_, field(), problem, at);
  }

  // Throws unless n more bytes are available.
  template <class FieldFn>
  void need(uint64_t n, const FieldFn& field) const {
    if (n > remaining()) {
      fail(field,
           "file truncated: needs " + std::to_string(n) + " bytes, " +
               std::to_string(remaining()) + " left (file size " + std::to_string(size()) + ")",
           pos_);
    }
  }

  template <class T, class FieldFn>
  T read(const FieldFn& field) {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  template <class FieldFn>
  std::span<const uint8_t> take(uint64_t n, const FieldFn& field) {
    need(n, field);
    auto s = b_.subspan(static_cast<size_t>(pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }

 private:
  std::span<const uint8_t> b_;
  std::string_view file_;
  uint64_t pos_ = 0;
};

// row_bytes for untrusted sizes: nullopt if n is not a multiple of the block size or the byte
// count would overflow 64 bits.
inline std::optional<uint64_t> checked_row_bytes(DType t, uint64_t n) {
  const auto& info = dtype_info(t);
  if (n % info.block_size != 0) return std::nullopt;
  uint64_t b = 0;
  if (__builtin_mul_overflow(n / info.block_size, uint64_t{info.type_size}, &b)) return std::nullopt;
  return b;
}

// Appends little-endian values to a byte buffer (the writers' counterpart).
class ByteWriter {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out_.insert(out_.end(), p, p + sizeof(T));
  }
  void put_bytes(std::span<const uint8_t> s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void put_bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void pad_to(uint64_t alignment) {
    while (out_.size() % alignment != 0) out_.push_back(0);
  }
  size_t size() const { return out_.size(); }
  std::vector<uint8_t>& bytes() { return out_; }

 private:
  std::vector<uint8_t> out_;
};

// Writes a whole buffer to `path`; throws omni::Error on failure.
void write_file_bytes(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace omni
