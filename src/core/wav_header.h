// The canonical 44-byte RIFF/WAVE header (PCM or IEEE-float "fmt " chunk, then the "data" chunk
// header), shared by every WAV writer so there is one place that knows the layout.
#pragma once

#include <cstdint>

#include "core/byte_io.h"

namespace omni {

inline constexpr uint16_t kWavFormatPcm = 1;
inline constexpr uint16_t kWavFormatFloat = 3;

// Appends the header for `data_bytes` bytes of interleaved samples. A data_bytes of 0xFFFFFFFF
// is written as is in both size fields (the streaming "until end of file" convention). Throws
// omni::Error for a layout RIFF cannot describe (bad channel count or rate, > 4 GiB of data).
void put_wav_header(ByteWriter& out, uint16_t format_tag, int channels, int sample_rate,
                    int bits_per_sample, uint64_t data_bytes);

}  // namespace omni
