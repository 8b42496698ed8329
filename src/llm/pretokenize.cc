#include "llm/pretokenize.h"

#include <functional>

#include "core/error.h"
#include "llm/unicode.h"

namespace omni::llm {
namespace {

using unicode::kLetter;
using unicode::kNumber;
using unicode::kPunctuation;
using unicode::kWhiteSpace;

// The text being split: code points and their flags, computed once.
struct Text {
  std::vector<uint32_t> cpt;
  std::vector<uint16_t> fl;
  explicit Text(std::string_view s) : cpt(unicode::decode_utf8(s)) {
    fl.reserve(cpt.size());
    for (uint32_t c : cpt) fl.push_back(unicode::flags(c));
  }
  bool ws(size_t i) const { return fl[i] & kWhiteSpace; }
  bool letter(size_t i) const { return fl[i] & kLetter; }
  bool number(size_t i) const { return fl[i] & kNumber; }
  bool punct(size_t i) const { return fl[i] & kPunctuation; }
  // [^\s\p{L}\p{N}]
  bool other(size_t i) const { return !(fl[i] & (kWhiteSpace | kLetter | kNumber)); }
  bool newline(size_t i) const { return cpt[i] == '\r' || cpt[i] == '\n'; }
};

// A matcher returns the length of the match at `pos` within [pos, end), or 0 for none.
using Matcher = size_t (*)(const Text& t, size_t pos, size_t end);

template <typename Pred>
size_t run(size_t pos, size_t end, Pred p) {
  size_t i = pos;
  while (i < end && p(i)) ++i;
  return i - pos;
}

uint32_t lower_ascii(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive.
size_t contraction(const Text& t, size_t pos, size_t end, bool any_case) {
  if (t.cpt[pos] != '\'' || pos + 1 >= end) return 0;
  const auto c = [&](size_t i) { return any_case ? lower_ascii(t.cpt[i]) : t.cpt[i]; };
  const uint32_t c1 = c(pos + 1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= end) return 0;
  const uint32_t c2 = c(pos + 2);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

// \s+(?!\S) followed, when `fallback`, by the alternative \s+.
size_t trailing_space(const Text& t, size_t pos, size_t end, bool fallback) {
  const size_t r = run(pos, end, [&](size_t i) { return t.ws(i); });
  if (r == 0) return 0;
  if (pos + r == end) return r;
  if (r >= 2) return r - 1;  // leave the last space to prefix the next word
  return fallback ? 1 : 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
size_t match_gpt2(const Text& t, size_t pos, size_t end) {
  if (size_t n = contraction(t, pos, end, false)) return n;
  const size_t q = pos + (t.cpt[pos] == ' ' ? 1 : 0);
  if (q < end) {
    if (t.letter(q)) return q - pos + run(q, end, [&](size_t i) { return t.letter(i); });
    if (t.number(q)) return q - pos + run(q, end, [&](size_t i) { return t.number(i); });
    if (t.other(q)) return q - pos + run(q, end, [&](size_t i) { return t.other(i); });
  }
  return trailing_space(t, pos, end, false);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,MAXDIGITS}|
//  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
template <size_t kMaxDigits>
size_t match_llama3(const Text& t, size_t pos, size_t end) {
  if (size_t n = contraction(t, pos, end, true)) return n;
  const auto letters = [&](size_t from) {
    return run(from, end, [&](size_t i) { return t.letter(i); });
  };
  if (!t.newline(pos) && !t.letter(pos) && !t.number(pos) && pos + 1 < end && t.letter(pos + 1)) {
    return 1 + letters(pos + 1);
  }
  if (t.letter(pos)) return letters(pos);
  if (t.number(pos)) {
    const size_t n = run(pos, end, [&](size_t i) { return t.number(i); });
    return n < kMaxDigits ? n : kMaxDigits;
  }
  const size_t q = pos + (t.cpt[pos] == ' ' ? 1 : 0);
  if (q < end && t.other(q)) {
    size_t n = q - pos + run(q, end, [&](size_t i) { return t.other(i); });
    n += run(pos + n, end, [&](size_t i) { return t.newline(i); });
    return n;
  }
  if (t.ws(pos)) {
    const size_t r = run(pos, end, [&](size_t i) { return t.ws(i); });
    for (size_t k = r; k > 0; --k) {  // \s*[\r\n]+: up to the last newline in the run
      if (t.newline(pos + k - 1)) return k;
    }
    return trailing_space(t, pos, end, true);
  }
  return 0;
}

size_t match_newline(const Text& t, size_t pos, size_t) { return t.newline(pos) ? 1 : 0; }

// \s?\p{L}+
size_t match_space_letters(const Text& t, size_t pos, size_t end) {
  const size_t q = pos + (t.ws(pos) ? 1 : 0);
  if (q < end && t.letter(q)) return q - pos + run(q, end, [&](size_t i) { return t.letter(i); });
  return 0;
}

// \s?\p{P}+
size_t match_space_punct(const Text& t, size_t pos, size_t end) {
  const size_t q = pos + (t.ws(pos) ? 1 : 0);
  if (q < end && t.punct(q)) return q - pos + run(q, end, [&](size_t i) { return t.punct(i); });
  return 0;
}

// [一-龥ࠀ-一가-퟿]+ (the reference matches it on text whose non-ASCII spaces were replaced)
bool cjk_hangul(const Text& t, size_t i) {
  const uint32_t c = t.cpt[i];
  if (t.ws(i)) return false;
  return (c >= 0x4E00 && c <= 0x9FA5) || (c >= 0x0800 && c <= 0x4E00) ||
         (c >= 0xAC00 && c <= 0xD7FF);
}
size_t match_cjk(const Text& t, size_t pos, size_t end) {
  return run(pos, end, [&](size_t i) { return cjk_hangul(t, i); });
}

size_t match_digit(const Text& t, size_t pos, size_t) { return t.number(pos) ? 1 : 0; }
size_t match_digits(const Text& t, size_t pos, size_t end) {
  return run(pos, end, [&](size_t i) { return t.number(i); });
}

// [0-9][0-9][0-9]
size_t match_3ascii_digits(const Text& t, size_t pos, size_t end) {
  if (pos + 3 > end) return 0;
  for (size_t i = pos; i < pos + 3; ++i) {
    if (t.cpt[i] < '0' || t.cpt[i] > '9') return 0;
  }
  return 3;
}

// [\p{P}\$\+<=>\^~\|]+  (falcon adds the backtick)
bool punct_or_ascii_symbol(const Text& t, size_t i, bool backtick) {
  switch (t.cpt[i]) {
    case '$': case '+': case '<': case '=': case '>': case '^': case '~': case '|':
      return true;
    case '`':
      return backtick;
    default:
      return t.punct(i);
  }
}
size_t match_punct_symbols(const Text& t, size_t pos, size_t end) {
  return run(pos, end, [&](size_t i) { return punct_or_ascii_symbol(t, i, false); });
}
size_t match_punct_symbols_bt(const Text& t, size_t pos, size_t end) {
  return run(pos, end, [&](size_t i) { return punct_or_ascii_symbol(t, i, true); });
}

// deepseek-llm letters: the explicit class from its tokenizer.json (Latin, Greek, Cyrillic,
// Armenian, Georgian, Cherokee, ... letters), as inclusive code point ranges.
constexpr uint32_t kDeepseekLetters[][2] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
    {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
    {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
    {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
    {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
    {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
    {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
    {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
    {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
    {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
    {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
bool in_ranges(uint32_t c, const uint32_t (*r)[2], size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (c >= r[i][0] && c <= r[i][1]) return true;
  }
  return false;
}
// \s?[letters]+ (matched by the reference on text whose non-ASCII spaces became U+000B)
size_t match_deepseek_letters(const Text& t, size_t pos, size_t end) {
  const auto is = [&](size_t i) {
    return !t.ws(i) && in_ranges(t.cpt[i], kDeepseekLetters, std::size(kDeepseekLetters));
  };
  const size_t q = pos + (t.ws(pos) ? 1 : 0);
  if (q < end && is(q)) return q - pos + run(q, end, is);
  return 0;
}
// \s?[!-/:-~！-／：-～‘-‟　-。]+
size_t match_deepseek_punct(const Text& t, size_t pos, size_t end) {
  static constexpr uint32_t kRanges[][2] = {{0x21, 0x2F},     {0x3A, 0x7E},     {0xFF01, 0xFF0F},
                                            {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002}};
  const auto is = [&](size_t i) {
    return !t.ws(i) && in_ranges(t.cpt[i], kRanges, std::size(kRanges));
  };
  const size_t q = pos + (t.ws(pos) ? 1 : 0);
  if (q < end && is(q)) return q - pos + run(q, end, is);
  return 0;
}
// \s+$
size_t match_final_space(const Text& t, size_t pos, size_t end) {
  const size_t r = run(pos, end, [&](size_t i) { return t.ws(i); });
  return r > 0 && pos + r == end ? r : 0;
}

// Splits every piece of `pieces` (lengths in code points) with one matcher.
std::vector<size_t> split_pass(const Text& t, const std::vector<size_t>& pieces, Matcher m) {
  std::vector<size_t> out;
  out.reserve(pieces.size() * 2);
  size_t start = 0;
  for (size_t len : pieces) {
    const size_t end = start + len;
    size_t gap = start;
    for (size_t pos = start; pos < end;) {
      const size_t n = m(t, pos, end);
      if (n == 0) {
        ++pos;
        continue;
      }
      if (pos > gap) out.push_back(pos - gap);
      out.push_back(n);
      pos += n;
      gap = pos;
    }
    if (end > gap) out.push_back(end - gap);
    start = end;
  }
  return out;
}

std::vector<Matcher> passes(PreTokenizer kind) {
  switch (kind) {
    case PreTokenizer::kGpt2:
      return {match_gpt2};
    case PreTokenizer::kLlama3:
      return {match_llama3<3>};
    case PreTokenizer::kQwen2:
      return {match_llama3<1>};
    case PreTokenizer::kDeepseekLlm:
      return {match_newline,     match_deepseek_letters, match_deepseek_punct,
              match_final_space, match_cjk,              match_digits};
    case PreTokenizer::kDeepseekCoder:
      return {match_newline, match_space_letters, match_space_punct, match_cjk, match_digit};
    case PreTokenizer::kFalcon:
      return {match_punct_symbols_bt, match_gpt2, match_3ascii_digits};
    case PreTokenizer::kStarcoder:
      return {match_digit, match_gpt2};
    case PreTokenizer::kDefault:
      break;
  }
  return {match_punct_symbols, match_gpt2, match_digits, match_3ascii_digits};
}

}  // namespace

std::vector<std::string> pre_tokenize(PreTokenizer kind, std::string_view text) {
  const Text t(text);
  if (t.cpt.empty()) return {};
  std::vector<size_t> pieces{t.cpt.size()};
  for (Matcher m : passes(kind)) pieces = split_pass(t, pieces, m);
  std::vector<std::string> words;
  words.reserve(pieces.size());
  size_t start = 0;
  for (size_t len : pieces) {
    std::string w;
    for (size_t i = start; i < start + len; ++i) unicode::append_utf8(w, t.cpt[i]);
    words.push_back(std::move(w));
    start += len;
  }
  return words;
}

PreTokenizerInfo pre_tokenizer_info(std::string_view pre) {
  PreTokenizerInfo info;
  const auto is = [&](std::initializer_list<std::string_view> names) {
    for (auto n : names) {
      if (pre == n) return true;
    }
    return false;
  };
  if (pre.empty() || pre == "default") {
    info.kind = PreTokenizer::kDefault;
  } else if (is({"llama3", "llama-v3", "llama-bpe", "falcon3"})) {
    info.kind = PreTokenizer::kLlama3;
    info.ignore_merges = true;
    info.default_add_bos = true;
  } else if (is({"dbrx", "smaug-bpe"})) {
    info.kind = PreTokenizer::kLlama3;
  } else if (pre == "chatglm-bpe") {
    info.kind = PreTokenizer::kLlama3;
    info.clears_bos = true;
  } else if (pre == "deepseek-llm") {
    info.kind = PreTokenizer::kDeepseekLlm;
    info.clean_spaces = false;
  } else if (pre == "deepseek-coder") {
    info.kind = PreTokenizer::kDeepseekCoder;
    info.clean_spaces = false;
  } else if (pre == "falcon") {
    info.kind = PreTokenizer::kFalcon;
  } else if (is({"starcoder", "refact", "codeshell", "exaone", "minerva-7b"})) {
    info.kind = PreTokenizer::kStarcoder;
  } else if (is({"command-r", "smollm"})) {
    info.kind = PreTokenizer::kStarcoder;
    info.clean_spaces = false;
  } else if (is({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es",
                 "jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"})) {
    info.kind = PreTokenizer::kGpt2;
  } else if (is({"qwen2", "deepseek-r1-qwen"})) {
    info.kind = PreTokenizer::kQwen2;
    info.clean_spaces = false;
  } else if (is({"stablelm2", "megrez"})) {
    info.kind = PreTokenizer::kQwen2;
  } else {
    throw FormatError("unknown pre-tokenizer type '" + std::string(pre) + "'");
  }
  return info;
}

std::string_view pre_tokenizer_name(PreTokenizer kind) {
  switch (kind) {
    case PreTokenizer::kDefault: return "default";
    case PreTokenizer::kGpt2: return "gpt-2";
    case PreTokenizer::kLlama3: return "llama3";
    case PreTokenizer::kQwen2: return "qwen2";
    case PreTokenizer::kDeepseekLlm: return "deepseek-llm";
    case PreTokenizer::kDeepseekCoder: return "deepseek-coder";
    case PreTokenizer::kFalcon: return "falcon";
    case PreTokenizer::kStarcoder: return "starcoder";
  }
  return "?";
}

}  // namespace omni::llm
