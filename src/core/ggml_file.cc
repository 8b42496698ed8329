#include "core/ggml_file.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <limits>

#include "core/byte_io.h"
#include "core/error.h"
#include "core/mmap.h"

namespace omni::ggml {
namespace {

constexpr const char* kHparamNames[11] = {
    "n_vocab",      "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer", "n_text_ctx",
    "n_text_state", "n_text_head", "n_text_layer",  "n_mels",       "ftype"};

int32_t* hparam_fields(Hparams& h, int i) {
  int32_t* fields[11] = {&h.n_vocab,      &h.n_audio_ctx, &h.n_audio_state, &h.n_audio_head,
                         &h.n_audio_layer, &h.n_text_ctx,  &h.n_text_state,  &h.n_text_head,
                         &h.n_text_layer,  &h.n_mels,      &h.ftype};
  return fields[i];
}

std::optional<DType> ftype_to_dtype(int32_t base) {
  // ggml_ftype values whisper.cpp maps to a weight type; the others (4 = q4_1 with some f16,
  // k-quants) it refuses for these files.
  switch (base) {
    case 0: return DType::F32;
    case 1: return DType::F16;
    case 2: return DType::Q4_0;
    case 3: return DType::Q4_1;
    case 7: return DType::Q8_0;
    case 8: return DType::Q5_0;
    case 9: return DType::Q5_1;
    default: return std::nullopt;
  }
}

std::string quoted(std::string_view s) {
  std::string out = "'";
  const size_t n = std::min<size_t>(s.size(), 80);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (s.size() > n) out += "...";
  return out + "'";
}

}  // namespace

DType Hparams::weight_type() const { return ftype_to_dtype(ftype_base()).value_or(DType::F32); }

bool is_supported_tensor_type(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::Q4_0: case DType::Q4_1:
    case DType::Q5_0: case DType::Q5_1: case DType::Q8_0:
      return true;
    default:
      return false;
  }
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

File File::parse(std::span<const uint8_t> bytes, std::string name) {
  File f;
  f.name_ = std::move(name);
  f.bytes_ = bytes;
  ByteReader r(bytes, f.name_);

  const auto magic = r.read<uint32_t>([] { return std::string("magic"); });
  if (magic != kMagic) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", magic);
    r.fail([] { return std::string("magic"); },
           std::string("not a whisper ggml file (magic ") + hex + ", expected 0x67676d6c)", 0);
  }

  for (int i = 0; i < 11; ++i) {
    const uint64_t at = r.pos();
    const auto field = [&] { return std::string("hparams.") + kHparamNames[i]; };
    const auto v = r.read<int32_t>(field);
    if (i < 10 && v <= 0) r.fail(field, "must be positive, found " + std::to_string(v), at);
    if (i == 10) {
      if (v < 0 || !ftype_to_dtype(v % kQuantVersionFactor)) {
        r.fail(field, "unknown ftype " + std::to_string(v), at);
      }
    }
    *hparam_fields(f.hparams_, i) = v;
  }

  // Mel filter bank.
  {
    const uint64_t at = r.pos();
    f.filters_.n_mel = r.read<int32_t>([] { return std::string("mel filters n_mel"); });
    f.filters_.n_fft = r.read<int32_t>([] { return std::string("mel filters n_fft"); });
    if (f.filters_.n_mel <= 0 || f.filters_.n_fft <= 0) {
      r.fail([] { return std::string("mel filters"); },
             "shape " + std::to_string(f.filters_.n_mel) + " x " +
                 std::to_string(f.filters_.n_fft) + " is not positive",
             at);
    }
    const uint64_t n = static_cast<uint64_t>(f.filters_.n_mel) * f.filters_.n_fft;
    const auto field = [] { return std::string("mel filters data"); };
    if (n > r.remaining() / sizeof(float)) {
      r.fail(field,
             std::to_string(n) + " float32 values cannot fit in the " +
                 std::to_string(r.remaining()) + " bytes left in the file",
             r.pos());
    }
    const auto raw = r.take(n * sizeof(float), field);
    f.filters_.data.resize(static_cast<size_t>(n));
    std::memcpy(f.filters_.data.data(), raw.data(), raw.size());
  }

  // Vocabulary.
  {
    const uint64_t at = r.pos();
    const auto count = r.read<int32_t>([] { return std::string("vocab count"); });
    if (count < 0) r.fail([] { return std::string("vocab count"); }, "is negative", at);
    // Each token takes at least its 4-byte length.
    if (static_cast<uint64_t>(count) > r.remaining() / 4) {
      r.fail([] { return std::string("vocab count"); },
             std::to_string(count) + " tokens cannot fit in the " +
                 std::to_string(r.remaining()) + " bytes left in the file",
             at);
    }
    f.vocab_.reserve(static_cast<size_t>(count));
    for (int32_t i = 0; i < count; ++i) {
      const auto field = [&] { return "vocab token #" + std::to_string(i); };
      const uint64_t len_at = r.pos();
      const auto len = r.read<uint32_t>(field);
      if (len > r.remaining()) {
        r.fail(field,
               "length " + std::to_string(len) + " exceeds the " +
                   std::to_string(r.remaining()) + " bytes left in the file",
               len_at);
      }
      const auto s = r.take(len, field);
      f.vocab_.emplace_back(reinterpret_cast<const char*>(s.data()), s.size());
    }
  }

  // Tensors until the end of the file.
  while (!r.at_end()) {
    const uint64_t start = r.pos();
    const size_t index = f.tensors_.size();
    const auto hdr = [&] { return "tensor #" + std::to_string(index) + " header"; };
    const auto n_dims = r.read<int32_t>(hdr);
    const auto name_len = r.read<int32_t>(hdr);
    const auto type_id = r.read<int32_t>(hdr);
    if (n_dims < 1 || static_cast<uint32_t>(n_dims) > kMaxDims) {
      r.fail([&] { return "tensor #" + std::to_string(index) + " n_dims"; },
             std::to_string(n_dims) + " dimensions (must be 1.." + std::to_string(kMaxDims) + ")",
             start);
    }
    if (name_len <= 0 || static_cast<uint64_t>(name_len) > r.remaining()) {
      r.fail([&] { return "tensor #" + std::to_string(index) + " name length"; },
             "length " + std::to_string(name_len) + " is not within the " +
                 std::to_string(r.remaining()) + " bytes left in the file",
             start + 4);
    }
    TensorInfo t;
    uint64_t n_elements = 1;
    for (int32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne_at = r.pos();
      const auto field = [&] {
        return "tensor #" + std::to_string(index) + " ne[" + std::to_string(d) + "]";
      };
      const auto ne = r.read<int32_t>(field);
      if (ne <= 0) r.fail(field, "dimension " + std::to_string(ne) + " is not positive", ne_at);
      if (__builtin_mul_overflow(n_elements, static_cast<uint64_t>(ne), &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        r.fail(field, "element count overflows 63 bits", ne_at);
      }
      t.shape.push_back(static_cast<uint64_t>(ne));
    }
    const auto name_bytes =
        r.take(static_cast<uint64_t>(name_len), [&] { return "tensor #" + std::to_string(index) + " name"; });
    t.name.assign(reinterpret_cast<const char*>(name_bytes.data()), name_bytes.size());
    const std::string label = "tensor " + quoted(t.name);
    const auto info = type_id >= 0 ? dtype_info(static_cast<uint32_t>(type_id)) : std::nullopt;
    if (!info || !is_supported_tensor_type(info->type)) {
      r.fail([&] { return label + " type"; }, "unsupported tensor type " + std::to_string(type_id),
             start + 8);
    }
    t.type = info->type;
    const auto rb = checked_row_bytes(t.type, t.shape[0]);
    if (!rb) {
      r.fail([&] { return label + " ne[0]"; },
             t.shape[0] % info->block_size != 0
                 ? "row of " + std::to_string(t.shape[0]) + " elements is not a multiple of the " +
                       std::string(info->name) + " block size " + std::to_string(info->block_size)
                 : std::string("row byte size overflows 64 bits"),
             start + 12);
    }
    t.n_elements = n_elements;
    if (__builtin_mul_overflow(*rb, t.rows(), &t.n_bytes)) {
      r.fail([&] { return label + " shape"; }, "byte size overflows 64 bits", start);
    }
    if (f.tensor_index_.count(t.name)) {
      r.fail([&] { return label; }, "duplicate tensor name", start);
    }
    const uint64_t data_at = r.pos();
    if (t.n_bytes > r.remaining()) {
      r.fail([&] { return label + " data"; },
             std::to_string(t.n_bytes) + " bytes extend past end of file (size " +
                 std::to_string(r.size()) + ")",
             data_at);
    }
    t.offset = data_at;
    t.data = r.take(t.n_bytes, [&] { return label + " data"; }).data();
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }
  return f;
}

const TensorInfo* File::tensor(std::string_view name) const {
  const auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Writer::Writer(Hparams hparams, MelFilters filters, std::vector<std::string> vocab)
    : hparams_(hparams), filters_(std::move(filters)), vocab_(std::move(vocab)) {
  if (static_cast<uint64_t>(filters_.n_mel) * static_cast<uint64_t>(filters_.n_fft) !=
          filters_.data.size() ||
      filters_.n_mel <= 0 || filters_.n_fft <= 0) {
    throw Error("ggml writer: mel filters hold " + std::to_string(filters_.data.size()) +
                " values, not n_mel x n_fft = " + std::to_string(filters_.n_mel) + " x " +
                std::to_string(filters_.n_fft));
  }
  if (vocab_.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw Error("ggml writer: vocabulary too large");
  }
}

void Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> shape,
                        std::span<const uint8_t> data) {
  const auto fail = [&](const std::string& why) {
    throw Error("ggml writer: tensor '" + name + "': " + why);
  };
  if (!is_supported_tensor_type(type)) fail("type not supported by whisper ggml files");
  if (shape.empty() || shape.size() > kMaxDims) fail("needs 1 to 4 dimensions");
  if (name.empty() || name.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail("bad name length");
  }
  uint64_t rows = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 || shape[i] > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      fail("dimension out of the int32 range");
    }
    if (i > 0) rows *= shape[i];
  }
  const auto rb = row_bytes(type, shape[0]);
  if (!rb || *rb * rows != data.size()) {
    fail(std::to_string(data.size()) + " data bytes do not match its type and shape");
  }
  for (const auto& t : tensors_) {
    if (t.name == name) fail("duplicate name");
  }
  tensors_.push_back({std::move(name), type, std::move(shape), {data.begin(), data.end()}});
}

std::vector<uint8_t> Writer::to_bytes() const {
  ByteWriter w;
  w.put<uint32_t>(kMagic);
  Hparams h = hparams_;
  for (int i = 0; i < 11; ++i) w.put<int32_t>(*hparam_fields(h, i));
  w.put<int32_t>(filters_.n_mel);
  w.put<int32_t>(filters_.n_fft);
  w.put_bytes({reinterpret_cast<const uint8_t*>(filters_.data.data()),
               filters_.data.size() * sizeof(float)});
  w.put<int32_t>(static_cast<int32_t>(vocab_.size()));
  for (const auto& tok : vocab_) {
    w.put<uint32_t>(static_cast<uint32_t>(tok.size()));
    w.put_bytes(tok);
  }
  for (const auto& t : tensors_) {
    w.put<int32_t>(static_cast<int32_t>(t.shape.size()));
    w.put<int32_t>(static_cast<int32_t>(t.name.size()));
    w.put<int32_t>(static_cast<int32_t>(t.type));
    for (uint64_t ne : t.shape) w.put<int32_t>(static_cast<int32_t>(ne));
    w.put_bytes(t.name);
    w.put_bytes(t.data);
  }
  return std::move(w.bytes());
}

void Writer::write(const std::string& path) const { write_file_bytes(path, to_bytes()); }

}  // namespace omni::ggml
