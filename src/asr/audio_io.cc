#include "asr/audio_io.h"

#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>

#include "asr/wav.h"
#include "core/error.h"

namespace omni::asr {
namespace {

// libsndfile's virtual I/O over a byte buffer (read) or a growing vector (write).
struct MemFile {
  const uint8_t* data = nullptr;
  std::vector<uint8_t>* sink = nullptr;  // set when writing
  sf_count_t size = 0;
  sf_count_t pos = 0;
};

sf_count_t vio_len(void* u) {
  auto* m = static_cast<MemFile*>(u);
  return m->sink ? static_cast<sf_count_t>(m->sink->size()) : m->size;
}
sf_count_t vio_seek(sf_count_t off, int whence, void* u) {
  auto* m = static_cast<MemFile*>(u);
  const sf_count_t len = vio_len(u);
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : len;
  sf_count_t target = base + off;
  if (target < 0) return -1;
  m->pos = target;
  return m->pos;
}
sf_count_t vio_read(void* ptr, sf_count_t count, void* u) {
  auto* m = static_cast<MemFile*>(u);
  const sf_count_t len = vio_len(u);
  if (count <= 0 || m->pos >= len) return 0;
  const sf_count_t n = std::min(count, len - m->pos);
  const uint8_t* src = m->sink ? m->sink->data() : m->data;
  std::memcpy(ptr, src + m->pos, static_cast<size_t>(n));
  m->pos += n;
  return n;
}
sf_count_t vio_write(const void* ptr, sf_count_t count, void* u) {
  auto* m = static_cast<MemFile*>(u);
  if (!m->sink || count <= 0) return 0;
  const auto end = static_cast<size_t>(m->pos + count);
  if (m->sink->size() < end) m->sink->resize(end);
  std::memcpy(m->sink->data() + m->pos, ptr, static_cast<size_t>(count));
  m->pos += count;
  return count;
}
sf_count_t vio_tell(void* u) { return static_cast<MemFile*>(u)->pos; }

SF_VIRTUAL_IO make_vio() {
  SF_VIRTUAL_IO v{};
  v.get_filelen = vio_len;
  v.seek = vio_seek;
  v.read = vio_read;
  v.write = vio_write;
  v.tell = vio_tell;
  return v;
}

struct SndCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndPtr = std::unique_ptr<SNDFILE, SndCloser>;

Audio read_all(SNDFILE* f, const SF_INFO& info, const std::string& name, uint64_t max_samples) {
  if (info.channels <= 0 || info.channels > 1024) {
    throw FormatError(name + ": libsndfile reports " + std::to_string(info.channels) + " channels");
  }
  if (info.samplerate <= 0 || info.samplerate > 10'000'000) {
    throw FormatError(name + ": libsndfile reports sample rate " + std::to_string(info.samplerate));
  }
  Audio a;
  a.sample_rate = info.samplerate;
  a.channels = info.channels;
  // The frame count in the header is a claim, not a fact: grow as frames actually decode.
  constexpr sf_count_t kChunkFrames = 16384;
  std::vector<float> buf(static_cast<size_t>(kChunkFrames) * info.channels);
  for (;;) {
    const sf_count_t got = sf_readf_float(f, buf.data(), kChunkFrames);
    if (got < 0) throw FormatError(name + ": libsndfile: " + sf_strerror(f));
    if (got == 0) break;
    const size_t n = static_cast<size_t>(got) * info.channels;
    if (a.samples.size() + n > max_samples) {
      throw FormatError(name + ": decodes to more than " + std::to_string(max_samples) +
                        " samples (limit)");
    }
    for (size_t i = 0; i < n; ++i) {
      // Decoders can emit NaN/Inf on corrupt streams; keep them out of the pipeline.
      a.samples.push_back(std::isfinite(buf[i]) ? buf[i] : 0.0f);
    }
  }
  if (sf_error(f) != SF_ERR_NO_ERROR) throw FormatError(name + ": libsndfile: " + sf_strerror(f));
  return a;
}

}  // namespace

Audio sndfile_decode_memory(std::span<const uint8_t> bytes, const std::string& name,
                            uint64_t max_samples) {
  if (bytes.empty()) throw FormatError(name + ": empty input (0 bytes)");
  MemFile mem;
  mem.data = bytes.data();
  mem.size = static_cast<sf_count_t>(bytes.size());
  SF_VIRTUAL_IO vio = make_vio();
  SF_INFO info{};
  SndPtr f(sf_open_virtual(&vio, SFM_READ, &info, &mem));
  if (!f)
    throw FormatError(name + ": not a supported audio file (libsndfile: " + sf_strerror(nullptr) +
                      ")");
  return read_all(f.get(), info, name, max_samples);
}

Audio sndfile_decode_file(const std::string& path, uint64_t max_samples) {
  SF_INFO info{};
  SndPtr f(sf_open(path.c_str(), SFM_READ, &info));
  if (!f) {
    throw FormatError(path + ": cannot decode (libsndfile: " + sf_strerror(nullptr) + ")");
  }
  return read_all(f.get(), info, path, max_samples);
}

Audio load_audio_memory(std::span<const uint8_t> bytes, const std::string& name) {
  if (!looks_like_wav(bytes)) return sndfile_decode_memory(bytes, name);
  try {
    return read_wav(bytes, name);
  } catch (const WavUnsupportedEncoding& e) {
    // A sound container with a codec we do not decode ourselves (ADPCM, GSM 6.10, ...). Only
    // this case reaches libsndfile: malformed WAVs stay rejected by our stricter parser.
    try {
      return sndfile_decode_memory(bytes, name);
    } catch (const FormatError&) {
      throw e;
    }
  }
}

Audio load_audio_file(const std::string& path) {
  const auto bytes = read_whole_file(path);
  return load_audio_memory(bytes, path);
}

Audio load_audio_stream(std::FILE* in, const std::string& name, uint64_t max_bytes) {
  if (!in) throw Error(name + ": no input stream");
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) {
    if (bytes.size() + n > max_bytes) {
      throw FormatError(name + ": more than " + std::to_string(max_bytes) + " bytes (limit)");
    }
    bytes.insert(bytes.end(), buf, buf + n);
  }
  if (std::ferror(in)) throw Error(name + ": read error");
  return load_audio_memory(bytes, name);
}

std::vector<uint8_t> sndfile_encode_memory(const Audio& audio, SndFormat format) {
  int f = 0;
  switch (format) {
    case SndFormat::kWavPcm16:
      f = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
      break;
    case SndFormat::kWavFloat:
      f = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
      break;
    case SndFormat::kFlac16:
      f = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
      break;
    case SndFormat::kOggVorbis:
      f = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
      break;
    case SndFormat::kOggOpus:
      f = SF_FORMAT_OGG | SF_FORMAT_OPUS;
      break;
    case SndFormat::kMp3:
      f = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
      break;
    case SndFormat::kAiff16:
      f = SF_FORMAT_AIFF | SF_FORMAT_PCM_16;
      break;
  }
  return sndfile_encode_memory(audio, f);
}

std::vector<uint8_t> sndfile_encode_memory(const Audio& audio, int libsndfile_format) {
  SF_INFO info{};
  info.samplerate = audio.sample_rate;
  info.channels = audio.channels;
  info.format = libsndfile_format;
  if (!sf_format_check(&info)) {
    throw Error("sndfile_encode_memory: libsndfile cannot write this format at " +
                std::to_string(audio.sample_rate) + " Hz, " + std::to_string(audio.channels) +
                " channels");
  }
  std::vector<uint8_t> out;
  MemFile mem;
  mem.sink = &out;
  SF_VIRTUAL_IO vio = make_vio();
  {
    SndPtr f(sf_open_virtual(&vio, SFM_WRITE, &info, &mem));
    if (!f) throw Error(std::string("sndfile_encode_memory: ") + sf_strerror(nullptr));
    // Integer targets clip instead of wrapping on out-of-range floats.
    sf_command(f.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);
    const auto frames = static_cast<sf_count_t>(audio.frames());
    if (sf_writef_float(f.get(), audio.samples.data(), frames) != frames) {
      throw Error(std::string("sndfile_encode_memory: ") + sf_strerror(f.get()));
    }
  }  // sf_close flushes the encoder and patches the header
  return out;
}

Audio decode_raw_s16le(std::span<const uint8_t> bytes, int sample_rate, int channels) {
  if (sample_rate <= 0) throw Error("raw s16le: sample rate must be positive");
  if (channels <= 0 || channels > 1024) throw Error("raw s16le: bad channel count");
  Audio a;
  a.sample_rate = sample_rate;
  a.channels = channels;
  const size_t frame_bytes = 2 * static_cast<size_t>(channels);
  const size_t n = bytes.size() / frame_bytes * channels;
  a.samples.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto v = static_cast<int16_t>(bytes[2 * i] | bytes[2 * i + 1] << 8);
    a.samples[i] = v / 32768.0f;
  }
  return a;
}

Audio read_raw_s16le(std::FILE* in, int sample_rate, int channels, const std::string& name,
                     uint64_t max_samples) {
  if (!in) throw Error(name + ": no input stream");
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) {
    if ((bytes.size() + n) / 2 > max_samples) {
      throw FormatError(name + ": more than " + std::to_string(max_samples) + " samples (limit)");
    }
    bytes.insert(bytes.end(), buf, buf + n);
  }
  if (std::ferror(in)) throw Error(name + ": read error");
  return decode_raw_s16le(bytes, sample_rate, channels);
}

Audio read_raw_s16le_fd(int fd, int sample_rate, int channels, const std::string& name,
                        uint64_t max_samples) {
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(name + ": read error: " + std::strerror(errno));
    }
    if (n == 0) break;
    if ((bytes.size() + static_cast<size_t>(n)) / 2 > max_samples) {
      throw FormatError(name + ": more than " + std::to_string(max_samples) + " samples (limit)");
    }
    bytes.insert(bytes.end(), buf, buf + n);
  }
  return decode_raw_s16le(bytes, sample_rate, channels);
}

}  // namespace omni::asr
