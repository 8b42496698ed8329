// Builders for hand-made WAV files in tests and fuzz seeds (little-endian RIFF).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace omni::asr::testing {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, uint32_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, v & 0xFFFF);
  put16(b, v >> 16);
}
inline void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

// A chunk with its header and, for odd sizes, the pad byte. `declared` overrides the size field.
inline Bytes chunk(const char* id, const Bytes& body, int64_t declared = -1) {
  Bytes b(id, id + 4);
  put32(b, declared >= 0 ? static_cast<uint32_t>(declared) : static_cast<uint32_t>(body.size()));
  append(b, body);
  if (body.size() % 2) b.push_back(0);
  return b;
}

inline Bytes fmt_body(uint16_t tag, uint16_t channels, uint32_t rate, uint16_t block_align,
                      uint16_t bits) {
  Bytes b;
  put16(b, tag);
  put16(b, channels);
  put32(b, rate);
  put32(b, rate * block_align);
  put16(b, block_align);
  put16(b, bits);
  return b;
}

inline Bytes fmt_extensible(uint16_t sub_tag, uint16_t channels, uint32_t rate, uint16_t bits,
                            uint16_t valid_bits, bool good_guid = true) {
  Bytes b = fmt_body(0xFFFE, channels, rate, static_cast<uint16_t>(channels * bits / 8), bits);
  put16(b, 22);
  put16(b, valid_bits);
  put32(b, 0);  // channel mask
  put16(b, sub_tag);
  const uint8_t tail[14] = {
      0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
      0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, good_guid ? uint8_t{0x71} : uint8_t{0x72}};
  b.insert(b.end(), tail, tail + 14);
  return b;
}

inline Bytes riff(const std::vector<Bytes>& chunks, const char* magic = "RIFF") {
  Bytes body{'W', 'A', 'V', 'E'};
  for (const auto& c : chunks) append(body, c);
  Bytes b(magic, magic + 4);
  put32(b, static_cast<uint32_t>(body.size()));
  append(b, body);
  return b;
}

inline Bytes s16(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) put16(b, static_cast<uint16_t>(static_cast<int16_t>(x)));
  return b;
}

// A small valid file: 16-bit stereo, 3 frames, with a LIST chunk and an odd-sized chunk.
inline Bytes sample_file() {
  Bytes list_body{'I', 'N', 'F', 'O'};
  append(list_body, chunk("INAM", Bytes{'h', 'i', 0}));
  return riff({chunk("fmt ", fmt_body(1, 2, 22050, 4, 16)), chunk("LIST", list_body),
               chunk("junk", Bytes{1, 2, 3}),
               chunk("data", s16({100, -100, 32767, -32768, 0, 1}))});
}

}  // namespace omni::asr::testing
