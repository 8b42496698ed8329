// WAV (RIFF/RIFX/RF64) reader and writer of our own. The reader takes untrusted bytes: every
// size field is checked against the bytes actually present, allocations are bounded by the
// input size, and anything malformed throws omni::FormatError naming the input, field and byte
// offset.
//
// Supported sample layouts: PCM 8-bit (unsigned), 16/24/32-bit (signed), IEEE float 32/64,
// G.711 A-law and mu-law, each plain or as WAVE_FORMAT_EXTENSIBLE; any channel count and rate.
// Conversion to float follows whisper.cpp: int16 -> s / 32768.0f (likewise 2^23, 2^31 for 24 and
// 32 bits, (b - 128) / 128 for 8 bits).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "asr/audio.h"
#include "core/error.h"

namespace omni::asr {

// A well-formed WAV whose sample encoding our parser does not decode (ADPCM, GSM, MPEG in WAV,
// ...). load_audio_file / load_audio_memory hand such files to libsndfile instead.
class WavUnsupportedEncoding : public FormatError {
 public:
  using FormatError::FormatError;
};

// What the reader found, for callers that care (diagnostics, tests).
struct WavInfo {
  enum class Container { kRiff, kRifx, kRf64 };
  Container container = Container::kRiff;
  uint16_t format_tag = 0;  // after resolving EXTENSIBLE: 1 PCM, 3 float, 6 A-law, 7 mu-law
  bool extensible = false;
  int channels = 0;
  int sample_rate = 0;
  int container_bits = 0;      // bits per sample slot (block_align * 8 / channels)
  int valid_bits = 0;          // significant bits (== container_bits unless EXTENSIBLE says less)
  uint64_t data_offset = 0;    // byte offset of the first sample
  uint64_t data_declared = 0;  // data chunk size field (0xFFFFFFFF: "until end of file")
  uint64_t data_used = 0;      // bytes decoded (whole frames only)
  bool streaming = false;      // size field was 0xFFFFFFFF: data runs to the end of the file
  bool truncated = false;      // the data chunk claims more bytes than the file holds
  uint64_t non_finite = 0;     // NaN/Inf float samples, replaced by 0
};

// Parses a whole WAV file held in memory. `name` is used in error messages.
Audio read_wav(std::span<const uint8_t> bytes, const std::string& name = "<memory>",
               WavInfo* info = nullptr);
Audio read_wav_file(const std::string& path, WavInfo* info = nullptr);

// True if the bytes start like a WAV file (RIFF/RIFX/RF64 ... WAVE).
bool looks_like_wav(std::span<const uint8_t> bytes);

enum class WavEncoding { kPcm16, kFloat32 };

// Little-endian RIFF WAV. kPcm16 rounds x * 32768 to nearest and clamps to [-32768, 32767], so
// reading it back with s / 32768 returns every int16 value exactly.
std::vector<uint8_t> encode_wav(const Audio& audio, WavEncoding encoding);
void write_wav_file(const std::string& path, const Audio& audio, WavEncoding encoding);

// Reads a whole file into memory (errors name the path). Shared by the audio loaders.
std::vector<uint8_t> read_whole_file(const std::string& path);

}  // namespace omni::asr
