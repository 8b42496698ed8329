#include "llm/unicode.h"

#include <algorithm>
#include <array>
#include <map>

#include "llm/unicode_data.h"

namespace omni::llm::unicode {
namespace {

constexpr uint32_t kMaxCpt = 0x110000;
constexpr uint32_t kBlockBits = 8;
constexpr uint32_t kBlockSize = 1u << kBlockBits;
constexpr uint32_t kReplacement = 0xFFFD;

// Two-stage lookup built once from the run-length tables: stage 1 maps a 256-code-point block to
// a (deduplicated) block of flags in stage 2. About 100 KB instead of 2 MB for a flat array.
struct FlagTable {
  std::vector<uint16_t> stage1;
  std::vector<uint16_t> stage2;

  FlagTable() {
    std::vector<uint16_t> flat(kMaxCpt, kUndefined);
    for (size_t i = 0; i < data::kFlagRunCount; ++i) {
      const uint32_t a = data::kFlagRuns[i].start;
      const uint32_t b = i + 1 < data::kFlagRunCount ? data::kFlagRuns[i + 1].start : kMaxCpt;
      std::fill(flat.begin() + a, flat.begin() + b, data::kFlagRuns[i].flags);
    }
    for (size_t i = 0; i < data::kWhiteSpaceCount; ++i) {
      for (uint32_t c = data::kWhiteSpace[i].first; c <= data::kWhiteSpace[i].last; ++c) {
        flat[c] |= kWhiteSpace;
      }
    }
    std::map<std::vector<uint16_t>, uint16_t> seen;
    stage1.resize(kMaxCpt / kBlockSize);
    for (uint32_t blk = 0; blk < kMaxCpt / kBlockSize; ++blk) {
      std::vector<uint16_t> block(flat.begin() + blk * kBlockSize,
                                  flat.begin() + (blk + 1) * kBlockSize);
      auto [it, inserted] = seen.emplace(block, static_cast<uint16_t>(seen.size()));
      if (inserted) stage2.insert(stage2.end(), block.begin(), block.end());
      stage1[blk] = it->second;
    }
  }
};

const FlagTable& flag_table() {
  static const FlagTable table;
  return table;
}

// 68 bytes are not printable Latin-1; they map to U+0100..U+0143.
constexpr uint32_t kByteCptEnd = 256 + 68;

struct ByteMap {
  std::array<uint32_t, 256> to_cpt{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, kByteCptEnd> to_byte{};
  ByteMap() {
    // Printable Latin-1 bytes map to themselves; the rest to U+0100 upwards in byte order.
    to_byte.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_cpt[b] = printable ? b : next++;
      to_utf8[b] = to_utf8_impl(to_cpt[b]);
      to_byte[to_cpt[b]] = static_cast<int16_t>(b);
    }
  }
  static std::string to_utf8_impl(uint32_t c) {
    std::string s;
    append_utf8(s, c);
    return s;
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

// Decodes one sequence at `i` (i < s.size()); returns its length, 0 if invalid.
size_t decode_one(std::string_view s, size_t i, uint32_t* cpt) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c0 = b(0);
  if (c0 < 0x80) {
    *cpt = c0;
    return 1;
  }
  size_t n;
  uint32_t v;
  if ((c0 & 0xE0) == 0xC0) {
    n = 2;
    v = c0 & 0x1F;
  } else if ((c0 & 0xF0) == 0xE0) {
    n = 3;
    v = c0 & 0x0F;
  } else if ((c0 & 0xF8) == 0xF0) {
    n = 4;
    v = c0 & 0x07;
  } else {
    return 0;  // continuation byte or 0xF8..0xFF
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  if (v >= kMaxCpt) return 0;
  *cpt = v;
  return n;
}

}  // namespace

uint16_t flags(uint32_t cpt) {
  if (cpt >= kMaxCpt) return kUndefined;
  const auto& t = flag_table();
  return t.stage2[(static_cast<size_t>(t.stage1[cpt >> kBlockBits]) << kBlockBits) |
                  (cpt & (kBlockSize - 1))];
}

uint32_t to_lower(uint32_t cpt) {
  const auto* end = data::kLowercase + data::kLowercaseCount;
  const auto* it = std::lower_bound(data::kLowercase, end, cpt,
                                    [](const data::Mapping& m, uint32_t c) { return m.from < c; });
  return it != end && it->from == cpt ? it->to : cpt;
}

uint32_t nfd_first(uint32_t cpt) {
  const auto* end = data::kNfd + data::kNfdCount;
  const auto* it = std::upper_bound(data::kNfd, end, cpt,
                                    [](uint32_t c, const data::NfdRange& r) { return c < r.first; });
  if (it == data::kNfd) return cpt;
  --it;
  return cpt <= it->last ? it->nfd : cpt;
}

std::vector<uint32_t> decode_utf8(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t c;
    const size_t n = decode_one(s, i, &c);
    if (n == 0) {
      out.push_back(kReplacement);
      ++i;
    } else {
      out.push_back(c);
      i += n;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t c) {
  if (c >= kMaxCpt) c = kReplacement;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string to_utf8(uint32_t cpt) {
  std::string s;
  append_utf8(s, cpt);
  return s;
}

size_t complete_utf8_prefix(std::string_view s) {
  // Only the last (up to 3) bytes can belong to an unfinished sequence.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<uint8_t>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation: look further back for the lead
    if (c < 0x80) return n;
    const size_t need = utf8_len(c);
    if (need <= back) return n;  // complete (or over-long run of continuations: invalid)
    // The lead wants more bytes than we have; hold it back only if what follows is valid so far.
    if ((c & 0xF8) == 0xF8) return n;
    return n - back;
  }
  return n;
}

size_t invalid_utf8_at(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t c;
    const size_t n = decode_one(s, i, &c);
    if (n == 0) return i;
    if (n == 2 && c < 0x80) return i;
    if (n == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) return i;
    if (n == 4 && c < 0x10000) return i;
    i += n;
  }
  return std::string_view::npos;
}

bool is_valid_utf8(std::string_view s) { return invalid_utf8_at(s) == std::string_view::npos; }

uint32_t byte_to_cpt(uint8_t b) { return byte_map().to_cpt[b]; }

int cpt_to_byte(uint32_t cpt) { return cpt < kByteCptEnd ? byte_map().to_byte[cpt] : -1; }

std::string bytes_to_gpt2(std::string_view bytes) {
  const auto& m = byte_map();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += m.to_utf8[static_cast<uint8_t>(c)];
  return out;
}

}  // namespace omni::llm::unicode
