#include "asr/wav.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "core/byte_io.h"
#include "core/error.h"
#include "core/wav_header.h"

namespace omni::asr {
namespace {

// Rates above this are not audio any decoder here is meant for; also keeps later arithmetic
// (frames * rate ratios) far from overflow.
constexpr uint32_t kMaxSampleRate = 10'000'000;
constexpr uint32_t kStreamingSize = 0xFFFFFFFFu;
// KSDATAFORMAT_SUBTYPE_* GUIDs share these 14 bytes after the 2-byte format tag.
constexpr uint8_t kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                   0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

constexpr uint16_t kTagPcm = 1, kTagFloat = 3, kTagAlaw = 6, kTagMulaw = 7;
constexpr uint16_t kTagExtensible = 0xFFFE;

std::string hex_offset(uint64_t off) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(off));
  return buf;
}

// Bounds-checked little/big-endian field reads over the input.
class Bytes {
 public:
  Bytes(std::span<const uint8_t> b, bool big_endian, const std::string& name)
      : b_(b), be_(big_endian), name_(name) {}
  size_t size() const { return b_.size(); }
  const uint8_t* at(uint64_t off) const { return b_.data() + off; }
  void need(uint64_t off, uint64_t n, const char* what) const {
    if (off > b_.size() || n > b_.size() - off)
      fail(off, std::string(what) + " runs past end of file");
  }
  uint16_t u16(uint64_t off, const char* what) const {
    need(off, 2, what);
    const uint8_t* p = at(off);
    return be_ ? static_cast<uint16_t>(p[0] << 8 | p[1]) : static_cast<uint16_t>(p[1] << 8 | p[0]);
  }
  uint32_t u32(uint64_t off, const char* what) const {
    need(off, 4, what);
    const uint8_t* p = at(off);
    if (be_) return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
    return uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0];
  }
  uint64_t u64(uint64_t off, const char* what) const {
    const uint64_t lo = u32(off, what), hi = u32(off + 4, what);
    return be_ ? (lo << 32 | hi) : (hi << 32 | lo);
  }
  bool tag_is(uint64_t off, const char* four) const {
    return off + 4 <= b_.size() && std::memcmp(at(off), four, 4) == 0;
  }
  const std::string& name() const { return name_; }
  [[noreturn]] void fail(uint64_t off, const std::string& msg) const {
    throw FormatError(name_ + ": WAV offset " + hex_offset(off) + ": " + msg);
  }

 private:
  std::span<const uint8_t> b_;
  bool be_;
  const std::string& name_;
};

struct Fmt {
  uint16_t tag = 0;
  bool extensible = false;
  uint16_t channels = 0;
  uint32_t rate = 0;
  uint16_t block_align = 0;
  uint16_t bits = 0;
  uint16_t valid_bits = 0;
};

Fmt parse_fmt(const Bytes& in, uint64_t body, uint64_t size) {
  if (size < 16) in.fail(body, "fmt chunk is " + std::to_string(size) + " bytes, need at least 16");
  Fmt f;
  f.tag = in.u16(body, "fmt format tag");
  f.channels = in.u16(body + 2, "fmt channels");
  f.rate = in.u32(body + 4, "fmt sample rate");
  f.block_align = in.u16(body + 12, "fmt block align");
  f.bits = in.u16(body + 14, "fmt bits per sample");
  f.valid_bits = f.bits;
  if (f.tag == kTagExtensible) {
    if (size < 40) {
      in.fail(body,
              "WAVE_FORMAT_EXTENSIBLE fmt chunk is " + std::to_string(size) + " bytes, need 40");
    }
    const uint16_t cb = in.u16(body + 16, "fmt cbSize");
    if (cb < 22)
      in.fail(body + 16, "WAVE_FORMAT_EXTENSIBLE cbSize " + std::to_string(cb) + " < 22");
    f.extensible = true;
    f.valid_bits = in.u16(body + 18, "fmt valid bits");
    // body + 20: channel mask (speaker positions): irrelevant when downmixing by averaging.
    const uint64_t guid = body + 24;
    in.need(guid, 16, "fmt sub-format GUID");
    f.tag = in.u16(guid, "fmt sub-format");
    // The GUID tail is stored as written by Windows (mixed-endian struct) in both byte orders
    // we accept; only the first two bytes follow the file's endianness.
    if (std::memcmp(in.at(guid + 2), kGuidTail, sizeof kGuidTail) != 0) {
      throw WavUnsupportedEncoding(in.name() + ": WAV offset " + hex_offset(guid) +
                                   ": unknown WAVE_FORMAT_EXTENSIBLE sub-format GUID");
    }
    if (f.valid_bits == 0) f.valid_bits = f.bits;  // 0 means "all bits" in practice
  }
  return f;
}

// Chooses the per-sample decoder after validating the format against the block geometry.
void validate_fmt(const Bytes& in, const Fmt& f, uint64_t fmt_off) {
  const auto bad = [&](const std::string& m) { in.fail(fmt_off, m); };
  if (f.channels == 0) bad("channels is 0");
  if (f.rate == 0) bad("sample rate is 0");
  if (f.rate > kMaxSampleRate) bad("sample rate " + std::to_string(f.rate) + " Hz is implausible");
  // Codec first: a compressed WAV (ADPCM, ...) has its own block geometry, and callers fall back
  // to libsndfile on WavUnsupportedEncoding.
  if (f.tag != kTagPcm && f.tag != kTagFloat && f.tag != kTagAlaw && f.tag != kTagMulaw) {
    throw WavUnsupportedEncoding(
        in.name() + ": WAV offset " + hex_offset(fmt_off) + ": unsupported format tag " +
        std::to_string(f.tag) +
        " (supported: PCM, IEEE float, A-law, mu-law, EXTENSIBLE of these)");
  }
  if (f.bits == 0) bad("bits per sample is 0");
  if (f.block_align == 0) bad("block align is 0");
  const uint32_t slot_bytes = (f.bits + 7u) / 8u;
  if (uint32_t{f.block_align} != slot_bytes * f.channels) {
    bad("block align " + std::to_string(f.block_align) + " does not match " +
        std::to_string(f.channels) + " channels x " + std::to_string(f.bits) + " bits");
  }
  if (f.valid_bits > f.bits) {
    bad("valid bits " + std::to_string(f.valid_bits) + " exceed container bits " +
        std::to_string(f.bits));
  }
  switch (f.tag) {
    case kTagPcm:
      if (slot_bytes < 1 || slot_bytes > 4) {
        bad("PCM with " + std::to_string(f.bits) + " bits per sample is not supported");
      }
      break;
    case kTagFloat:
      if (f.bits != 32 && f.bits != 64) {
        bad("IEEE float with " + std::to_string(f.bits) + " bits (need 32 or 64)");
      }
      break;
    case kTagAlaw:
    case kTagMulaw:
      if (f.bits != 8) bad("G.711 with " + std::to_string(f.bits) + " bits (need 8)");
      break;
    default:
      break;
  }
}

// G.711 expansions to the 16-bit scale (the values libsndfile and most decoders produce).
int16_t mulaw_to_s16(uint8_t u) {
  u = static_cast<uint8_t>(~u);
  const int exponent = (u >> 4) & 7;
  const int mantissa = u & 0x0F;
  const int magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return static_cast<int16_t>((u & 0x80) ? -magnitude : magnitude);
}

int16_t alaw_to_s16(uint8_t a) {
  a ^= 0x55;
  const int segment = (a >> 4) & 7;
  int magnitude = ((a & 0x0F) << 4) + 8;
  if (segment >= 1) magnitude = (magnitude + 0x100) << (segment - 1);
  return static_cast<int16_t>((a & 0x80) ? magnitude : -magnitude);
}

void decode_samples(const Bytes& in, const Fmt& f, uint64_t data_off, uint64_t n_samples,
                    bool big_endian, float* out, uint64_t* non_finite) {
  const uint8_t* p = in.at(data_off);
  const unsigned width = (f.bits + 7u) / 8u;
  // Reads `width` bytes as an unsigned integer in the file's byte order.
  const auto word = [&](const uint8_t* s) {
    uint64_t v = 0;
    if (big_endian) {
      for (unsigned i = 0; i < width; ++i) v = v << 8 | s[i];
    } else {
      for (unsigned i = width; i-- > 0;) v = v << 8 | s[i];
    }
    return v;
  };
  switch (f.tag) {
    case kTagPcm:
      if (width == 1) {
        for (uint64_t i = 0; i < n_samples; ++i) out[i] = (static_cast<int>(p[i]) - 128) / 128.0f;
      } else if (width == 2) {
        for (uint64_t i = 0; i < n_samples; ++i) {
          out[i] = static_cast<int16_t>(word(p + 2 * i)) / 32768.0f;
        }
      } else if (width == 3) {
        for (uint64_t i = 0; i < n_samples; ++i) {
          // Sign-extend the 24-bit value via the top of a 32-bit word.
          const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(word(p + 3 * i)) << 8) >> 8;
          out[i] = static_cast<float>(v) / 8388608.0f;
        }
      } else {
        for (uint64_t i = 0; i < n_samples; ++i) {
          const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(word(p + 4 * i)));
          out[i] = static_cast<float>(v / 2147483648.0);
        }
      }
      return;
    case kTagFloat:
      for (uint64_t i = 0; i < n_samples; ++i) {
        float v;
        if (width == 4) {
          const uint32_t bits = static_cast<uint32_t>(word(p + 4 * i));
          std::memcpy(&v, &bits, 4);
        } else {
          const uint64_t bits = word(p + 8 * i);
          double d;
          std::memcpy(&d, &bits, 8);
          v = static_cast<float>(d);
        }
        if (!std::isfinite(v)) {
          // A hostile file must not poison the spectrogram (or the speaker) with NaN/Inf.
          v = 0.0f;
          ++*non_finite;
        }
        out[i] = v;
      }
      return;
    case kTagAlaw:
      for (uint64_t i = 0; i < n_samples; ++i) out[i] = alaw_to_s16(p[i]) / 32768.0f;
      return;
    case kTagMulaw:
      for (uint64_t i = 0; i < n_samples; ++i) out[i] = mulaw_to_s16(p[i]) / 32768.0f;
      return;
    default:
      in.fail(0, "unsupported format tag");  // unreachable: validate_fmt rejected it
  }
}

}  // namespace

bool looks_like_wav(std::span<const uint8_t> b) {
  if (b.size() < 12) return false;
  const bool riff = std::memcmp(b.data(), "RIFF", 4) == 0 ||
                    std::memcmp(b.data(), "RIFX", 4) == 0 || std::memcmp(b.data(), "RF64", 4) == 0;
  return riff && std::memcmp(b.data() + 8, "WAVE", 4) == 0;
}

Audio read_wav(std::span<const uint8_t> bytes, const std::string& name, WavInfo* info_out) {
  if (bytes.empty()) throw FormatError(name + ": empty file (0 bytes), not a WAV file");
  if (bytes.size() < 12) {
    throw FormatError(name + ": " + std::to_string(bytes.size()) +
                      " bytes is too short for a RIFF/WAVE header (12 bytes)");
  }
  WavInfo info;
  if (std::memcmp(bytes.data(), "RIFF", 4) == 0) {
    info.container = WavInfo::Container::kRiff;
  } else if (std::memcmp(bytes.data(), "RIFX", 4) == 0) {
    info.container = WavInfo::Container::kRifx;
  } else if (std::memcmp(bytes.data(), "RF64", 4) == 0) {
    info.container = WavInfo::Container::kRf64;
  } else {
    throw FormatError(name + ": not a WAV file (no RIFF/RIFX/RF64 magic at offset 0)");
  }
  const bool big_endian = info.container == WavInfo::Container::kRifx;
  const Bytes in(bytes, big_endian, name);
  if (!in.tag_is(8, "WAVE")) in.fail(8, "RIFF form type is not WAVE");

  // Chunk walk. The RIFF size field is ignored: writers often get it wrong (or leave it 0 or
  // 0xFFFFFFFF when streaming); the bytes present are what counts.
  bool have_fmt = false, have_data = false, have_ds64 = false;
  Fmt fmt;
  uint64_t fmt_off = 0, ds64_data_size = 0, data_off = 0, data_size = 0;
  uint64_t pos = 12;
  while (pos + 8 <= in.size()) {
    const uint64_t body = pos + 8;
    const uint32_t size32 = in.u32(pos + 4, "chunk size");
    const uint64_t avail = in.size() - body;
    if (in.tag_is(pos, "ds64")) {
      if (info.container != WavInfo::Container::kRf64)
        in.fail(pos, "ds64 chunk outside an RF64 file");
      if (size32 < 24 || avail < 24) in.fail(pos, "ds64 chunk too short (need 24 bytes)");
      ds64_data_size = in.u64(body + 8, "ds64 data size");
      have_ds64 = true;
    } else if (in.tag_is(pos, "fmt ")) {
      if (size32 > avail) {
        in.fail(pos, "fmt chunk claims " + std::to_string(size32) + " bytes, only " +
                         std::to_string(avail) + " left in the file");
      }
      if (!have_fmt) {
        fmt = parse_fmt(in, body, size32);
        fmt_off = pos;
        have_fmt = true;
      }
    } else if (in.tag_is(pos, "data")) {
      if (!have_data) {
        uint64_t declared = size32;
        if (info.container == WavInfo::Container::kRf64 && size32 == kStreamingSize) {
          if (!have_ds64) in.fail(pos, "RF64 data chunk size 0xFFFFFFFF without a ds64 chunk");
          declared = ds64_data_size;
        } else if (size32 == kStreamingSize) {
          info.streaming = true;
          info.data_declared = size32;
          declared = avail;
        }
        if (!info.streaming) info.data_declared = declared;
        if (declared > avail) {
          info.truncated = true;
          declared = avail;
        }
        data_off = body;
        data_size = declared;
        have_data = true;
        // Nothing after a streaming or truncated data chunk can be trusted as a chunk header.
        if (info.streaming || info.truncated) break;
      }
    }
    // Chunks are word aligned: an odd size is followed by one pad byte.
    const bool rf64_data = info.container == WavInfo::Container::kRf64 && in.tag_is(pos, "data") &&
                           size32 == kStreamingSize;
    const uint64_t chunk_len = rf64_data ? data_size : uint64_t{size32};
    const uint64_t next = body + chunk_len + (chunk_len & 1);
    if (next > in.size()) break;  // a trailing chunk cut short (LIST, id3, ...): ignore it
    pos = next;
  }
  if (!have_fmt) throw FormatError(name + ": WAV file has no fmt chunk");
  if (!have_data) throw FormatError(name + ": WAV file has no data chunk");
  validate_fmt(in, fmt, fmt_off);

  info.format_tag = fmt.tag;
  info.extensible = fmt.extensible;
  info.channels = fmt.channels;
  info.sample_rate = static_cast<int>(fmt.rate);
  info.container_bits = fmt.block_align * 8 / fmt.channels;
  info.valid_bits = fmt.valid_bits;
  info.data_offset = data_off;

  const uint64_t frames = data_size / fmt.block_align;  // a partial last frame is dropped
  info.data_used = frames * fmt.block_align;
  Audio audio;
  audio.sample_rate = info.sample_rate;
  audio.channels = fmt.channels;
  // Bounded by the input: at most 4 floats per input byte (8-bit samples).
  const uint64_t n_samples = frames * fmt.channels;
  audio.samples.resize(n_samples);
  decode_samples(in, fmt, data_off, n_samples, big_endian, audio.samples.data(), &info.non_finite);
  if (info_out) *info_out = info;
  return audio;
}

std::vector<uint8_t> read_whole_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  const bool err = std::ferror(f);
  std::fclose(f);
  if (err) throw Error(path + ": read error");
  return out;
}

Audio read_wav_file(const std::string& path, WavInfo* info) {
  const auto bytes = read_whole_file(path);
  return read_wav(bytes, path, info);
}

std::vector<uint8_t> encode_wav(const Audio& audio, WavEncoding enc) {
  const int width = enc == WavEncoding::kPcm16 ? 2 : 4;
  const uint64_t frames = audio.frames();
  const uint64_t n = frames * static_cast<uint64_t>(audio.channels > 0 ? audio.channels : 0);
  ByteWriter o;
  put_wav_header(o, enc == WavEncoding::kPcm16 ? kWavFormatPcm : kWavFormatFloat, audio.channels,
                 audio.sample_rate, width * 8, n * width);
  o.bytes().reserve(o.size() + n * width);
  for (size_t i = 0; i < n; ++i) {
    const float x = audio.samples[i];
    if (enc == WavEncoding::kPcm16) {
      // NaN compares false both ways and lands on 0.
      float s = std::nearbyint(x * 32768.0f);
      s = s > 32767.0f ? 32767.0f : (s < -32768.0f ? -32768.0f : (s == s ? s : 0.0f));
      o.put<int16_t>(static_cast<int16_t>(s));
    } else {
      o.put<float>(x);
    }
  }
  return std::move(o.bytes());
}

void write_wav_file(const std::string& path, const Audio& audio, WavEncoding encoding) {
  write_file_bytes(path, encode_wav(audio, encoding));
}

}  // namespace omni::asr
