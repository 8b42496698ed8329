// Loading audio from files, memory and pipes. WAV goes through our own parser (asr/wav.h); other
// containers (FLAC, Ogg Vorbis/Opus, MP3, AIFF, ... whatever the system libsndfile decodes) go
// through libsndfile. Results keep the source rate and channels; see asr/resample.h for the
// 16 kHz mono form the ASR engine wants.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "asr/audio.h"

namespace omni::asr {

// Decoded-size limit for compressed containers: a few bytes of FLAC can claim hours of audio.
// 2^28 samples = 1 GiB of floats (about 4.6 h of 16 kHz mono, 46 min of 48 kHz stereo).
inline constexpr uint64_t kMaxDecodedSamples = uint64_t{1} << 28;

// Any supported file: WAV by our parser (WAVs with other codecs, e.g. ADPCM, by libsndfile),
// anything else by libsndfile.
Audio load_audio_file(const std::string& path);
// Same for bytes in memory (an upload); `name` appears in error messages.
Audio load_audio_memory(std::span<const uint8_t> bytes, const std::string& name = "<memory>");

// A whole audio file read from a stream until EOF (e.g. `omni transcribe - < talk.flac`), then
// as load_audio_memory. max_bytes bounds what is buffered.
Audio load_audio_stream(std::FILE* in, const std::string& name = "<stdin>",
                        uint64_t max_bytes = uint64_t{1} << 31);

// libsndfile decoding only (no WAV fast path), from a path or from memory (virtual I/O).
Audio sndfile_decode_file(const std::string& path, uint64_t max_samples = kMaxDecodedSamples);
Audio sndfile_decode_memory(std::span<const uint8_t> bytes, const std::string& name = "<memory>",
                            uint64_t max_samples = kMaxDecodedSamples);

// Container/codec names for sndfile_encode_memory.
enum class SndFormat { kWavPcm16, kWavFloat, kFlac16, kOggVorbis, kOggOpus, kMp3, kAiff16 };
// Encodes with libsndfile (FLAC/Ogg output for the speech side; also how tests make real files).
std::vector<uint8_t> sndfile_encode_memory(const Audio& audio, SndFormat format);
// Any libsndfile SF_FORMAT_* combination (major | subtype | endianness), e.g. for test files.
std::vector<uint8_t> sndfile_encode_memory(const Audio& audio, int libsndfile_format);

// Headerless signed 16-bit little-endian PCM until end of stream (e.g. `arecord -f S16_LE` or
// `ffmpeg -f s16le -` piped into stdin). A trailing odd byte / partial frame is dropped.
Audio read_raw_s16le(std::FILE* in, int sample_rate, int channels = 1,
                     const std::string& name = "<stdin>",
                     uint64_t max_samples = kMaxDecodedSamples);
Audio read_raw_s16le_fd(int fd, int sample_rate, int channels = 1, const std::string& name = "<fd>",
                        uint64_t max_samples = kMaxDecodedSamples);
// The same conversion over bytes in memory.
Audio decode_raw_s16le(std::span<const uint8_t> bytes, int sample_rate, int channels = 1);

}  // namespace omni::asr
