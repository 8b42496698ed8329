#include "core/wav_header.h"

#include <string>

#include "core/error.h"

namespace omni {

void put_wav_header(ByteWriter& out, uint16_t format_tag, int channels, int sample_rate,
                    int bits_per_sample, uint64_t data_bytes) {
  if (channels <= 0 || channels > 0xFFFF) {
    throw Error("WAV: bad channel count " + std::to_string(channels));
  }
  if (sample_rate <= 0) throw Error("WAV: bad sample rate " + std::to_string(sample_rate));
  if (bits_per_sample <= 0 || bits_per_sample % 8 != 0 || bits_per_sample > 64) {
    throw Error("WAV: bad sample width " + std::to_string(bits_per_sample) + " bits");
  }
  const bool streaming = data_bytes == 0xFFFFFFFFull;
  if (!streaming && data_bytes > 0xFFFFFFFFull - 36) {
    throw Error("WAV: " + std::to_string(data_bytes) + " bytes of samples exceed RIFF's 4 GiB");
  }
  const uint32_t block_align = static_cast<uint32_t>(channels) * (bits_per_sample / 8);
  out.put_bytes(std::string_view("RIFF"));
  out.put<uint32_t>(streaming ? 0xFFFFFFFFu : static_cast<uint32_t>(36 + data_bytes));
  out.put_bytes(std::string_view("WAVEfmt "));
  out.put<uint32_t>(16);
  out.put<uint16_t>(format_tag);
  out.put<uint16_t>(static_cast<uint16_t>(channels));
  out.put<uint32_t>(static_cast<uint32_t>(sample_rate));
  out.put<uint32_t>(static_cast<uint32_t>(sample_rate) * block_align);
  out.put<uint16_t>(static_cast<uint16_t>(block_align));
  out.put<uint16_t>(static_cast<uint16_t>(bits_per_sample));
  out.put_bytes(std::string_view("data"));
  out.put<uint32_t>(static_cast<uint32_t>(data_bytes));
}

}  // namespace omni
