#include "core/gguf.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <numeric>
#include <unordered_set>

#include "core/byte_io.h"
#include "core/error.h"
#include "core/mmap.h"

namespace omni::gguf {
namespace {

constexpr uint32_t kNumValueTypes = 13;

// Smallest encoding of a value of type t: what a count of such values must at least occupy.
uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::STRING: return 8;      // length only
    case ValueType::ARRAY: return 4 + 8;   // element type + count
  }
  return 1;
}

std::string quoted(std::string_view s) {
  // Names in messages come from the file: cap them and keep control bytes out of terminals.
  std::string out = "'";
  const size_t n = std::min<size_t>(s.size(), 80);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (s.size() > n) out += "...";
  return out + "'";
}

// Where a value sits: "key 'a.b'" plus the index path inside nested arrays.
struct ValueCtx {
  const std::string* key;
  const ValueCtx* parent = nullptr;
  uint64_t index = 0;
  std::string describe() const {
    if (!parent) return "key " + quoted(*key);
    return parent->describe() + "[" + std::to_string(index) + "]";
  }
};

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& name) : r_(bytes, name) {}

  template <class FieldFn>
  std::string read_string(const FieldFn& field) {
    const uint64_t at = r_.pos();
    const auto len = r_.read<uint64_t>(field);
    if (len > r_.remaining()) {
      r_.fail(field,
              "string length " + std::to_string(len) + " exceeds the " +
                  std::to_string(r_.remaining()) + " bytes left in the file",
              at);
    }
    const auto s = r_.take(len, field);
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }

  template <class FieldFn>
  ValueType read_type(const FieldFn& field) {
    const uint64_t at = r_.pos();
    const auto t = r_.read<uint32_t>(field);
    if (t >= kNumValueTypes) r_.fail(field, "unknown value type " + std::to_string(t), at);
    return static_cast<ValueType>(t);
  }

  Value read_value(ValueType t, const ValueCtx& ctx, int depth) {
    auto field = [&] { return ctx.describe(); };
    Value v;
    switch (t) {
      case ValueType::U8: v.v = r_.read<uint8_t>(field); break;
      case ValueType::I8: v.v = r_.read<int8_t>(field); break;
      case ValueType::U16: v.v = r_.read<uint16_t>(field); break;
      case ValueType::I16: v.v = r_.read<int16_t>(field); break;
      case ValueType::U32: v.v = r_.read<uint32_t>(field); break;
      case ValueType::I32: v.v = r_.read<int32_t>(field); break;
      case ValueType::F32: v.v = r_.read<float>(field); break;
      case ValueType::U64: v.v = r_.read<uint64_t>(field); break;
      case ValueType::I64: v.v = r_.read<int64_t>(field); break;
      case ValueType::F64: v.v = r_.read<double>(field); break;
      case ValueType::BOOL: {
        const uint64_t at = r_.pos();
        const auto b = r_.read<uint8_t>(field);
        // Only 0 and 1 are booleans; anything else would not survive a round trip.
        if (b > 1) r_.fail(field, "bool value " + std::to_string(b) + " is neither 0 nor 1", at);
        v.v = b == 1;
        break;
      }
      case ValueType::STRING: v.v = read_string(field); break;
      case ValueType::ARRAY: v.v = read_array(ctx, depth + 1); break;
    }
    return v;
  }

  Array read_array(const ValueCtx& ctx, int depth) {
    auto field = [&] { return ctx.describe(); };
    const uint64_t at = r_.pos();
    if (depth > kMaxArrayNesting) {
      r_.fail(field, "arrays nested deeper than " + std::to_string(kMaxArrayNesting), at);
    }
    Array a;
    a.type = read_type([&] { return ctx.describe() + " array element type"; });
    const uint64_t count_at = r_.pos();
    const auto n = r_.read<uint64_t>([&] { return ctx.describe() + " array length"; });
    // Checked before anything is allocated: every element takes at least this many bytes.
    if (n > r_.remaining() / min_value_bytes(a.type)) {
      r_.fail([&] { return ctx.describe() + " array length"; },
              "array of " + std::to_string(n) + " " + std::string(value_type_name(a.type)) +
                  " values cannot fit in the " + std::to_string(r_.remaining()) +
                  " bytes left in the file",
              count_at);
    }
    // Each value costs ~40 bytes in memory however small in the file: cap the total so a large
    // hostile file cannot make us allocate tens of times its size.
    values_ += n;
    if (values_ > kMaxMetadataValues) {
      r_.fail([&] { return ctx.describe() + " array length"; },
              "more than " + std::to_string(kMaxMetadataValues) +
                  " metadata values in total (real models hold about a million)",
              count_at);
    }
    a.items.reserve(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) {
      ValueCtx child{ctx.key, &ctx, i};
      if (a.type == ValueType::ARRAY) {
        Value v;
        v.v = read_array(child, depth + 1);
        a.items.push_back(std::move(v));
      } else {
        a.items.push_back(read_value(a.type, child, depth));
      }
    }
    return a;
  }

  ByteReader& reader() { return r_; }

 private:
  ByteReader r_;
  uint64_t values_ = 0;  // array elements read so far
};

bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "unknown";
}

std::optional<int64_t> Value::as_int() const {
  return std::visit(
      [](const auto& x) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, uint64_t>) {
          if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
          return static_cast<int64_t>(x);
        } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<int64_t>(x);
        } else {
          return std::nullopt;
        }
      },
      v);
}

std::optional<uint64_t> Value::as_uint() const {
  return std::visit(
      [](const auto& x) -> std::optional<uint64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_signed_v<T>) {
            if (x < 0) return std::nullopt;
          }
          return static_cast<uint64_t>(x);
        } else {
          return std::nullopt;
        }
      },
      v);
}

std::optional<double> Value::as_double() const {
  return std::visit(
      [](const auto& x) -> std::optional<double> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<double>(x);
        } else {
          return std::nullopt;
        }
      },
      v);
}

const std::string* Value::as_string() const { return std::get_if<std::string>(&v); }
const Array* Value::as_array() const { return std::get_if<Array>(&v); }
std::optional<bool> Value::as_bool() const {
  if (const bool* b = std::get_if<bool>(&v)) return *b;
  return std::nullopt;
}

uint64_t TensorInfo::rows() const {
  uint64_t r = 1;
  for (size_t i = 1; i < shape.size(); ++i) r *= shape[i];
  return r;
}

File File::open(const std::string& path) {
  auto map = std::make_shared<Mapping>(path);
  File f = parse(map->bytes(), path);
  f.map_ = std::move(map);
  return f;
}

void File::advise_will_need() const {
  if (map_) map_->advise_will_need();
}

File File::parse(std::span<const uint8_t> bytes, std::string name) {
  File f;
  f.name_ = std::move(name);
  f.bytes_ = bytes;
  Parser p(bytes, f.name_);
  ByteReader& r = p.reader();

  // Header.
  const auto magic = r.read<uint32_t>([] { return std::string("magic"); });
  if (magic != kMagic) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", magic);
    r.fail([] { return std::string("magic"); },
           std::string("not a GGUF file (magic ") + hex + ", expected 0x46554747 \"GGUF\")", 0);
  }
  const auto version_field = [] { return std::string("version"); };
  const auto version = r.read<uint32_t>(version_field);
  if (version == 1) {
    r.fail(version_field,
           "GGUF version 1 is not supported (only versions 2 and 3); re-convert the model with "
           "a current llama.cpp",
           4);
  }
  if (version != 2 && version != 3) {
    const bool swapped = (version & 0xffffu) == 0 && version != 0;
    r.fail(version_field,
           swapped ? "big-endian GGUF files are not supported"
                   : "unsupported GGUF version " + std::to_string(version) + " (only 2 and 3)",
           4);
  }
  f.version_ = version;
  const uint64_t n_tensors_at = r.pos();
  const auto n_tensors = r.read<uint64_t>([] { return std::string("tensor count"); });
  const uint64_t n_kv_at = r.pos();
  const auto n_kv = r.read<uint64_t>([] { return std::string("metadata count"); });
  // A key-value pair takes at least 13 bytes, a tensor info at least 24: reject counts that
  // cannot fit before reserving anything.
  if (n_kv > r.remaining() / 13) {
    r.fail([] { return std::string("metadata count"); },
           std::to_string(n_kv) + " key-value pairs cannot fit in the " +
               std::to_string(r.remaining()) + " bytes left in the file (truncated or corrupt)",
           n_kv_at);
  }
  if (n_tensors > r.remaining() / 24) {
    r.fail([] { return std::string("tensor count"); },
           std::to_string(n_tensors) + " tensor infos cannot fit in the " +
               std::to_string(r.remaining()) + " bytes left in the file (truncated or corrupt)",
           n_tensors_at);
  }

  // Metadata.
  f.kv_.reserve(static_cast<size_t>(n_kv));
  std::vector<uint64_t> value_at;  // where each value's type was read (for messages)
  value_at.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t key_at = r.pos();
    std::string key = p.read_string([&] { return "metadata key #" + std::to_string(i); });
    if (f.kv_index_.count(key)) {
      r.fail([&] { return "key " + quoted(key); }, "duplicate metadata key", key_at);
    }
    const ValueCtx ctx{&key};
    value_at.push_back(r.pos());
    const ValueType t = p.read_type([&] { return ctx.describe() + " value type"; });
    Value v = p.read_value(t, ctx, 0);
    f.kv_index_.emplace(key, f.kv_.size());
    f.kv_.push_back({std::move(key), std::move(v)});
  }

  if (const auto it = f.kv_index_.find("general.alignment"); it != f.kv_index_.end()) {
    const Value* a = &f.kv_[it->second].value;
    const uint64_t at = value_at[it->second];
    const auto field = [] { return std::string("key 'general.alignment'"); };
    const auto* x = std::get_if<uint32_t>(&a->v);
    if (!x) {
      r.fail(field,
             "must be a u32, found " + std::string(value_type_name(a->type())), at);
    }
    if (!is_power_of_two(*x)) {
      r.fail(field, "alignment " + std::to_string(*x) + " is not a non-zero power of two", at + 4);
    }
    f.alignment_ = *x;
  }

  // Tensor infos.
  f.tensors_.reserve(static_cast<size_t>(n_tensors));
  std::vector<uint64_t> info_at;  // where each tensor's offset field was read (for messages)
  info_at.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    const uint64_t name_at = r.pos();
    t.name = p.read_string([&] { return "tensor info #" + std::to_string(i) + " name"; });
    const std::string label = "tensor " + quoted(t.name);
    const uint64_t dims_at = r.pos();
    const auto n_dims = r.read<uint32_t>([&] { return label + " n_dims"; });
    if (n_dims > kMaxDims) {
      r.fail([&] { return label + " n_dims"; },
             std::to_string(n_dims) + " dimensions (at most " + std::to_string(kMaxDims) + ")",
             dims_at);
    }
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne_at = r.pos();
      const auto ne_field = [&] { return label + " ne[" + std::to_string(d) + "]"; };
      const auto ne = r.read<uint64_t>(ne_field);
      if (ne == 0) r.fail(ne_field, "dimension is zero", ne_at);
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        r.fail(ne_field, "dimension " + std::to_string(static_cast<int64_t>(ne)) + " is negative",
               ne_at);
      }
      if (__builtin_mul_overflow(n_elements, ne, &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        r.fail(ne_field, "element count overflows 63 bits", ne_at);
      }
      t.shape.push_back(ne);
    }
    const uint64_t type_at = r.pos();
    const auto type_id = r.read<uint32_t>([&] { return label + " type"; });
    const auto info = dtype_info(type_id);
    if (!info) {
      r.fail([&] { return label + " type"; }, "unknown tensor type " + std::to_string(type_id),
             type_at);
    }
    t.type = info->type;
    const uint64_t ne0 = t.shape.empty() ? 1 : t.shape[0];
    const auto rb = checked_row_bytes(t.type, ne0);
    if (!rb) {
      r.fail([&] { return label + " ne[0]"; },
             ne0 % info->block_size != 0
                 ? "row of " + std::to_string(ne0) + " elements is not a multiple of the " +
                       std::string(info->name) + " block size " + std::to_string(info->block_size)
                 : std::string("row byte size overflows 64 bits"),
             dims_at + 4);
    }
    t.n_elements = n_elements;
    if (__builtin_mul_overflow(*rb, t.rows(), &t.n_bytes)) {
      r.fail([&] { return label + " shape"; }, "byte size overflows 64 bits", dims_at);
    }
    const uint64_t off_at = r.pos();
    t.offset = r.read<uint64_t>([&] { return label + " data offset"; });
    if (t.offset % f.alignment_ != 0) {
      r.fail([&] { return label + " data offset"; },
             "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                 std::to_string(f.alignment_),
             off_at);
    }
    info_at.push_back(off_at);
    if (f.tensor_index_.count(t.name)) {
      r.fail([&] { return label; }, "duplicate tensor name", name_at);
    }
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  // Data section: starts at the next multiple of the alignment after the tensor infos.
  f.data_offset_ = align_up(r.pos(), f.alignment_);
  const uint64_t size = bytes.size();
  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    TensorInfo& t = f.tensors_[i];
    const auto field = [&] { return "tensor " + quoted(t.name); };
    uint64_t begin = 0, end = 0;
    if (__builtin_add_overflow(f.data_offset_, t.offset, &begin) || begin > size) {
      r.fail(field,
             "data offset " + std::to_string(t.offset) + " past end of file (size " +
                 std::to_string(size) + ", data section at " + std::to_string(f.data_offset_) +
                 ")",
             info_at[i]);
    }
    if (__builtin_add_overflow(begin, t.n_bytes, &end) || end > size) {
      r.fail(field,
             "data [" + std::to_string(begin) + ", +" + std::to_string(t.n_bytes) +
                 ") extends past end of file (size " + std::to_string(size) + ")",
             info_at[i]);
    }
    t.data = bytes.data() + begin;
  }
  // Tensors must not share bytes: sort by offset and compare neighbours.
  std::vector<size_t> order(f.tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return f.tensors_[a].offset < f.tensors_[b].offset;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const TensorInfo& prev = f.tensors_[order[k - 1]];
    const TensorInfo& cur = f.tensors_[order[k]];
    if (prev.offset + prev.n_bytes > cur.offset) {
      r.fail([&] { return "tensor " + quoted(cur.name); },
             "data at offset " + std::to_string(cur.offset) + " overlaps tensor " +
                 quoted(prev.name) + " [" + std::to_string(prev.offset) + ", " +
                 std::to_string(prev.offset + prev.n_bytes) + ")",
             info_at[order[k]]);
    }
  }
  return f;
}

bool File::erase(std::string_view key) {
  const auto it = kv_index_.find(std::string(key));
  if (it == kv_index_.end()) return false;
  kv_.erase(kv_.begin() + static_cast<std::ptrdiff_t>(it->second));
  kv_.shrink_to_fit();
  kv_index_.clear();
  for (size_t i = 0; i < kv_.size(); ++i) kv_index_.emplace(kv_[i].key, i);
  return true;
}

const Value* File::find(std::string_view key) const {
  const auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].value;
}

namespace {
[[noreturn]] void wrong_type(const std::string& file, std::string_view key, const Value& v,
                             std::string_view expected) {
  throw FormatError(file + ": key " + quoted(key) + ": expected " + std::string(expected) +
                    ", found " + std::string(value_type_name(v.type())));
}
}  // namespace

std::optional<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (const auto* s = v->as_string()) return *s;
  wrong_type(name_, key, *v, "a string");
}

std::optional<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto x = v->as_int()) return x;
  wrong_type(name_, key, *v, "an integer");
}

std::optional<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto x = v->as_double()) return x;
  wrong_type(name_, key, *v, "a number");
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto x = v->as_bool()) return x;
  wrong_type(name_, key, *v, "a bool");
}

const Array* File::get_array(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return nullptr;
  if (const auto* a = v->as_array()) return a;
  wrong_type(name_, key, *v, "an array");
}

std::string File::architecture() const {
  return get_string("general.architecture").value_or("");
}

const TensorInfo* File::tensor(std::string_view name) const {
  const auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------------------------------------
// Writer

void Writer::set(std::string key, Value value) {
  for (auto& kv : kv_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kv_.push_back({std::move(key), std::move(value)});
}

void Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> shape,
                        std::span<const uint8_t> data) {
  if (shape.size() > kMaxDims) throw Error("gguf writer: tensor '" + name + "': too many dims");
  uint64_t rows = 1;
  for (size_t i = 1; i < shape.size(); ++i) rows *= shape[i];
  const auto rb = row_bytes(type, shape.empty() ? 1 : shape[0]);
  if (!rb || *rb * rows != data.size()) {
    throw Error("gguf writer: tensor '" + name + "': " + std::to_string(data.size()) +
                " data bytes do not match its type and shape");
  }
  for (const auto& t : tensors_) {
    if (t.name == name) throw Error("gguf writer: duplicate tensor '" + name + "'");
  }
  tensors_.push_back({std::move(name), type, std::move(shape), {data.begin(), data.end()}});
}

uint64_t Writer::alignment() const {
  for (const auto& kv : kv_) {
    if (kv.key != "general.alignment") continue;
    const auto* x = std::get_if<uint32_t>(&kv.value.v);
    if (!x || !is_power_of_two(*x)) {
      throw Error("gguf writer: general.alignment must be a u32 power of two");
    }
    return *x;
  }
  return kDefaultAlignment;
}

namespace {
void put_string(ByteWriter& w, std::string_view s) {
  w.put<uint64_t>(s.size());
  w.put_bytes(s);
}

void put_value(ByteWriter& w, const Value& v);

void put_array(ByteWriter& w, const Array& a) {
  w.put<uint32_t>(static_cast<uint32_t>(a.type));
  w.put<uint64_t>(a.items.size());
  for (const auto& item : a.items) {
    if (item.type() != a.type) {
      throw Error("gguf writer: array of " + std::string(value_type_name(a.type)) +
                  " holds a " + std::string(value_type_name(item.type())));
    }
    put_value(w, item);
  }
}

void put_value(ByteWriter& w, const Value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          put_string(w, x);
        } else if constexpr (std::is_same_v<T, Array>) {
          put_array(w, x);
        } else if constexpr (std::is_same_v<T, bool>) {
          w.put<uint8_t>(x ? 1 : 0);
        } else {
          w.put<T>(x);
        }
      },
      v.v);
}
}  // namespace

std::vector<uint8_t> Writer::to_bytes() const {
  if (version_ != 2 && version_ != 3) {
    throw Error("gguf writer: cannot write version " + std::to_string(version_));
  }
  const uint64_t align = alignment();
  ByteWriter w;
  w.put<uint32_t>(kMagic);
  w.put<uint32_t>(version_);
  w.put<uint64_t>(tensors_.size());
  w.put<uint64_t>(kv_.size());
  for (const auto& kv : kv_) {
    put_string(w, kv.key);
    w.put<uint32_t>(static_cast<uint32_t>(kv.value.type()));
    put_value(w, kv.value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(w, t.name);
    w.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t ne : t.shape) w.put<uint64_t>(ne);
    w.put<uint32_t>(static_cast<uint32_t>(t.type));
    w.put<uint64_t>(offset);
    offset += align_up(t.data.size(), align);
  }
  // Like gguf-py and llama.cpp: no padding at all in a file without tensors; otherwise the data
  // section and every tensor in it (the last one included) are padded to the alignment.
  if (!tensors_.empty()) {
    w.pad_to(align);
    for (const auto& t : tensors_) {
      w.put_bytes(t.data);
      w.pad_to(align);
    }
  }
  return std::move(w.bytes());
}

void Writer::write(const std::string& path) const { write_file_bytes(path, to_bytes()); }

namespace {
template <class T>
Value make(T x) {
  Value v;
  v.v.emplace<T>(std::move(x));
  return v;
}
}  // namespace

Value make_string(std::string s) { return make<std::string>(std::move(s)); }
Value make_u32(uint32_t x) { return make<uint32_t>(x); }
Value make_i32(int32_t x) { return make<int32_t>(x); }
Value make_f32(float x) { return make<float>(x); }
Value make_bool(bool b) { return make<bool>(b); }
Value make_u64(uint64_t x) { return make<uint64_t>(x); }
Value make_array(ValueType elem, std::vector<Value> items) {
  return make<Array>(Array{elem, std::move(items)});
}

}  // namespace omni::gguf
