// Generates src/llm/unicode_data.cc (the tokenizer's Unicode tables) from the Unicode Character
// Database: UnicodeData.txt (general categories, simple lowercase mappings, canonical
// decompositions) and PropList.txt (White_Space).
//
//   omni-unicode-gen UCD_DIR > src/llm/unicode_data.cc
//
// On Debian the UCD is the `unicode-data` package (/usr/share/unicode). The output is committed,
// so building omni never needs the package; re-run this tool only to move to a new Unicode
// version. The tables follow what llama.cpp derives from the same data, because tokenization has
// to match it bit for bit:
//   - flags per code point from the general category: N* number, L* letter, Z* separator,
//     M* mark, P* punctuation, S* symbol, C* (Cc Cf Co Cs) control, unassigned (Cn) undefined;
//   - lowercase = the simple lowercase mapping (field 13);
//   - "NFD" = the FIRST code point of the full canonical decomposition (recursive; Hangul
//     syllables decompose algorithmically to their leading jamo). The WordPiece tokenizer
//     uses it to strip accents.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr uint32_t kMaxCpt = 0x110000;

// Keep in sync with omni::llm::unicode::Flag (src/llm/unicode.h).
constexpr uint8_t kUndefined = 0x01, kNumber = 0x02, kLetter = 0x04, kSeparator = 0x08,
                  kMark = 0x10, kPunctuation = 0x20, kSymbol = 0x40, kControl = 0x80;

uint8_t category_flag(const std::string& cat) {
  if (cat == "Cn") return kUndefined;
  switch (cat.empty() ? '?' : cat[0]) {
    case 'C': return kControl;
    case 'L': return kLetter;
    case 'M': return kMark;
    case 'N': return kNumber;
    case 'P': return kPunctuation;
    case 'S': return kSymbol;
    case 'Z': return kSeparator;
    default: throw std::runtime_error("unknown general category '" + cat + "'");
  }
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

uint32_t hex(const std::string& s) { return static_cast<uint32_t>(std::stoul(s, nullptr, 16)); }

struct Data {
  std::vector<uint8_t> flags = std::vector<uint8_t>(kMaxCpt, kUndefined);
  std::vector<uint32_t> lower = std::vector<uint32_t>(kMaxCpt, 0);
  std::map<uint32_t, uint32_t> decomp_first;  // canonical decompositions: first code point
  std::vector<bool> white = std::vector<bool>(kMaxCpt, false);
};

void read_unicode_data(const std::string& path, Data& d) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::string line;
  int64_t range_first = -1;
  while (std::getline(f, line)) {
    if (trim(line).empty()) continue;
    const auto fields = split(line, ';');
    if (fields.size() != 15) throw std::runtime_error("bad line in UnicodeData.txt: " + line);
    const uint32_t cpt = hex(fields[0]);
    const std::string& name = fields[1];
    const uint8_t flag = category_flag(fields[2]);
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ", First>") == 0) {
      range_first = cpt;
      continue;
    }
    uint32_t first = cpt;
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ", Last>") == 0) {
      if (range_first < 0) throw std::runtime_error("range end without start: " + line);
      first = static_cast<uint32_t>(range_first);
      range_first = -1;
    }
    for (uint32_t c = first; c <= cpt; ++c) d.flags[c] = flag;
    if (!fields[13].empty()) d.lower[cpt] = hex(fields[13]);
    const std::string dec = trim(fields[5]);
    if (!dec.empty() && dec[0] != '<') d.decomp_first[cpt] = hex(split(dec, ' ')[0]);
  }
}

void read_white_space(const std::string& path, Data& d) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::string line;
  while (std::getline(f, line)) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    const auto fields = split(line, ';');
    if (fields.size() != 2 || trim(fields[1]) != "White_Space") continue;
    const std::string range = trim(fields[0]);
    const auto dots = range.find("..");
    const uint32_t a = hex(range.substr(0, dots));
    const uint32_t b = dots == std::string::npos ? a : hex(range.substr(dots + 2));
    for (uint32_t c = a; c <= b; ++c) d.white[c] = true;
  }
}

uint32_t nfd_first(const Data& d, uint32_t cpt) {
  constexpr uint32_t kSBase = 0xAC00, kSCount = 11172, kLBase = 0x1100, kNCount = 588;
  if (cpt >= kSBase && cpt < kSBase + kSCount) return kLBase + (cpt - kSBase) / kNCount;
  for (auto it = d.decomp_first.find(cpt); it != d.decomp_first.end();
       it = d.decomp_first.find(cpt)) {
    cpt = it->second;
  }
  return cpt;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s UCD_DIR > unicode_data.cc\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  Data d;
  try {
    read_unicode_data(dir + "/UnicodeData.txt", d);
    read_white_space(dir + "/PropList.txt", d);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "omni-unicode-gen: %s\n", e.what());
    return 1;
  }
  std::string version = "unknown";
  {
    std::ifstream f(dir + "/ReadMe.txt");
    std::string line;
    while (std::getline(f, line)) {
      const auto p = line.find("Version ");
      if (p != std::string::npos) {
        version = trim(line.substr(p + 8));
        const auto sp = version.find_first_of(" ,");
        if (sp != std::string::npos) version.resize(sp);
        break;
      }
    }
  }

  std::ostringstream o;
  o << "// Generated by tools/unicode_gen from the Unicode Character Database " << version
    << ". Do not edit.\n"
    << "#include \"llm/unicode_data.h\"\n\nnamespace omni::llm::unicode::data {\n\n";
  char buf[64];

  // Category flags as runs: each entry starts a run that lasts until the next one.
  o << "const FlagRun kFlagRuns[] = {\n";
  size_t n_runs = 0, col = 0;
  for (uint32_t c = 0; c < kMaxCpt; ++c) {
    if (c != 0 && d.flags[c] == d.flags[c - 1]) continue;
    std::snprintf(buf, sizeof buf, "{0x%05X,0x%02X},", c, d.flags[c]);
    o << (col == 0 ? "    " : "") << buf;
    if (++col == 6) {
      o << "\n";
      col = 0;
    }
    ++n_runs;
  }
  o << (col ? "\n" : "") << "};\nconst size_t kFlagRunCount = " << n_runs << ";\n\n";

  o << "const Range kWhiteSpace[] = {\n";
  size_t n_ws = 0;
  for (uint32_t c = 0; c < kMaxCpt; ++c) {
    if (!d.white[c] || (c > 0 && d.white[c - 1])) continue;
    uint32_t e = c;
    while (e + 1 < kMaxCpt && d.white[e + 1]) ++e;
    std::snprintf(buf, sizeof buf, "    {0x%05X,0x%05X},\n", c, e);
    o << buf;
    ++n_ws;
  }
  o << "};\nconst size_t kWhiteSpaceCount = " << n_ws << ";\n\n";

  o << "const Mapping kLowercase[] = {\n";
  size_t n_lower = 0;
  col = 0;
  for (uint32_t c = 0; c < kMaxCpt; ++c) {
    if (d.lower[c] == 0) continue;
    std::snprintf(buf, sizeof buf, "{0x%05X,0x%05X},", c, d.lower[c]);
    o << (col == 0 ? "    " : "") << buf;
    if (++col == 5) {
      o << "\n";
      col = 0;
    }
    ++n_lower;
  }
  o << (col ? "\n" : "") << "};\nconst size_t kLowercaseCount = " << n_lower << ";\n\n";

  // NFD first code points as runs of consecutive code points sharing one target.
  o << "const NfdRange kNfd[] = {\n";
  size_t n_nfd = 0;
  col = 0;
  for (uint32_t c = 0; c < kMaxCpt;) {
    const uint32_t t = nfd_first(d, c);
    if (t == c) {
      ++c;
      continue;
    }
    uint32_t e = c;
    while (e + 1 < kMaxCpt && nfd_first(d, e + 1) == t && e + 1 != t) ++e;
    std::snprintf(buf, sizeof buf, "{0x%05X,0x%05X,0x%05X},", c, e, t);
    o << (col == 0 ? "    " : "") << buf;
    if (++col == 4) {
      o << "\n";
      col = 0;
    }
    ++n_nfd;
    c = e + 1;
  }
  o << (col ? "\n" : "") << "};\nconst size_t kNfdCount = " << n_nfd << ";\n\n";
  o << "}  // namespace omni::llm::unicode::data\n";
  std::fputs(o.str().c_str(), stdout);
  return 0;
}
