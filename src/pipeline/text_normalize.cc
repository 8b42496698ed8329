#include "pipeline/text_normalize.h"

#include <array>
#include <cctype>
#include <cstdlib>
#include <vector>

#include "pipeline/text_util.h"

namespace omni::pipeline {
namespace {

constexpr std::array<const char*, 20> kOnes = {
    "zero",    "one",     "two",       "three",    "four",     "five",    "six",
    "seven",   "eight",   "nine",      "ten",      "eleven",   "twelve",  "thirteen",
    "fourteen", "fifteen", "sixteen",  "seventeen", "eighteen", "nineteen"};
constexpr std::array<const char*, 10> kTens = {"",      "",      "twenty",  "thirty", "forty",
                                               "fifty", "sixty", "seventy", "eighty", "ninety"};

std::string below_thousand(int n) {
  std::string out;
  if (n >= 100) {
    out = std::string(kOnes[n / 100]) + " hundred";
    n %= 100;
    if (n == 0) return out;
    out += ' ';
  }
  if (n < 20) return out + kOnes[n];
  out += kTens[n / 10];
  if (n % 10) out += std::string("-") + kOnes[n % 10];
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Decodes one UTF-8 code point at i (advances i); invalid bytes come back as themselves.
uint32_t next_cp(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
  if (i + len > s.size()) len = 1;
  uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

bool is_emoji(uint32_t cp) {
  return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
         (cp >= 0x2B00 && cp <= 0x2BFF) || cp == 0xFE0F || cp == 0x200D ||
         (cp >= 0xE0020 && cp <= 0xE007F);
}

bool has_hangul(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const uint32_t cp = next_cp(s, i);
    if (cp >= 0xAC00 && cp <= 0xD7A3) return true;
  }
  return false;
}

std::string drop_emoji(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t b = i;
    if (!is_emoji(next_cp(s, i))) out.append(s.substr(b, i - b));
  }
  return out;
}

// "example.com" → "example dot com"; other separators read too.
std::string spell_host(std::string_view h) {
  std::string out;
  for (char c : h) {
    if (c == '.') out += " dot ";
    else if (c == '-') out += " dash ";
    else if (c == '_') out += " underscore ";
    else out += c;
  }
  return out;
}

std::string speak_url(std::string_view u) {
  for (std::string_view p : {"https://", "http://"}) {
    if (u.starts_with(p)) u.remove_prefix(p.size());
  }
  if (u.starts_with("www.")) u.remove_prefix(4);
  const size_t slash = u.find_first_of("/?#:");
  return spell_host(u.substr(0, slash));
}

bool looks_like_url(std::string_view w) {
  if (w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www.")) return true;
  // bare domains: letters.tld(/...)
  const size_t dot = w.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  const std::string_view host = w.substr(0, w.find('/'));
  const size_t last = host.rfind('.');
  const std::string_view tld = host.substr(last + 1);
  static constexpr std::array<std::string_view, 10> kTld = {"com", "org", "net", "io", "dev",
                                                            "ai",  "edu", "gov", "co", "kr"};
  for (auto t : kTld) {
    if (tld == t) return true;
  }
  return false;
}

bool looks_like_email(std::string_view w) {
  const size_t at = w.find('@');
  return at != std::string_view::npos && at > 0 && w.find('.', at) != std::string_view::npos &&
         w.find('@', at + 1) == std::string_view::npos;
}

struct Abbrev {
  std::string_view from, to;
};
constexpr std::array<Abbrev, 18> kAbbrev = {{{"Dr.", "Doctor"},     {"Mr.", "Mister"},
                                             {"Mrs.", "Missus"},    {"Ms.", "Miz"},
                                             {"Prof.", "Professor"}, {"St.", "Saint"},
                                             {"Jr.", "Junior"},     {"Sr.", "Senior"},
                                             {"vs.", "versus"},     {"e.g.", "for example"},
                                             {"i.e.", "that is"},   {"etc.", "et cetera"},
                                             {"approx.", "approximately"}, {"min.", "minutes"},
                                             {"km", "kilometers"},  {"kg", "kilograms"},
                                             {"&", "and"},          {"w/", "with"}}};

std::string digits_words(std::string_view d) {
  std::string out;
  for (char c : d) {
    if (!out.empty()) out += ' ';
    out += kOnes[c - '0'];
  }
  return out;
}

std::string sino_digits(std::string_view d) {
  static constexpr std::array<const char*, 10> kKo = {"영", "일", "이", "삼", "사",
                                                      "오", "육", "칠", "팔", "구"};
  std::string out;
  for (char c : d) out += kKo[c - '0'];
  return out;
}

// Reads the number starting at s[i] (digits with optional , groups and one . fraction);
// returns the words and advances i. `korean` selects Sino-Korean. Currency/percent/ordinal
// context is handled by the caller.
struct Number {
  std::string int_digits, frac_digits;
  bool grouped = false;
};

Number scan_number(std::string_view s, size_t& i) {
  Number n;
  while (i < s.size()) {
    if (is_digit(s[i])) {
      n.int_digits += s[i++];
    } else if (s[i] == ',' && !n.int_digits.empty() && i + 3 < s.size() && is_digit(s[i + 1]) &&
               is_digit(s[i + 2]) && is_digit(s[i + 3]) &&
               (i + 4 == s.size() || !is_digit(s[i + 4]))) {
      n.grouped = true;
      ++i;
    } else {
      break;
    }
  }
  if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
    ++i;
    while (i < s.size() && is_digit(s[i])) n.frac_digits += s[i++];
  }
  return n;
}

int64_t to_int(const std::string& d) {
  if (d.size() > 18) return -1;
  return std::strtoll(d.c_str(), nullptr, 10);
}

std::string int_words(const std::string& d, bool korean) {
  const int64_t v = to_int(d);
  if (v < 0) return korean ? sino_digits(d) : digits_words(d);
  if (d.size() > 1 && d[0] == '0') return korean ? sino_digits(d) : digits_words(d);  // "007"
  return korean ? number_to_sino_korean(v) : number_to_words(v);
}

std::string speak_numbers(std::string_view s, bool korean) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    std::string currency;
    size_t j = i;
    bool negative = false;
    if ((c == '-' || c == '+') && j + 1 < s.size() && is_digit(s[j + 1]) &&
        (j == 0 || s[j - 1] == ' ' || s[j - 1] == '(')) {
      negative = c == '-';
      ++j;
    }
    for (std::string_view sym : {"$", "\u20AC", "\u00A3", "\u20A9"}) {
      if (s.substr(j).starts_with(sym) && j + sym.size() < s.size() && is_digit(s[j + sym.size()])) {
        currency = std::string(sym);
        j += sym.size();
      }
    }
    if (j >= s.size() || !is_digit(s[j]) || (i > 0 && (std::isalpha(static_cast<unsigned char>(s[i - 1])) || is_digit(s[i - 1])))) {
      out += c;
      ++i;
      continue;
    }
    Number n = scan_number(s, j);
    std::string words;
    if (negative) words = korean ? "마이너스 " : "minus ";
    // Ordinal suffixes (1st, 2nd, 3rd, 4th).
    std::string_view rest = s.substr(j);
    auto lower2 = [&](std::string_view r) {
      std::string t(r.substr(0, 2));
      for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return t;
    };
    const std::string suf = lower2(rest);
    const bool suffix_end = rest.size() == 2 || (rest.size() > 2 && !std::isalpha(static_cast<unsigned char>(rest[2])));
    if (!korean && n.frac_digits.empty() && currency.empty() && suffix_end &&
        (suf == "st" || suf == "nd" || suf == "rd" || suf == "th") && to_int(n.int_digits) >= 0) {
      words += ordinal_to_words(to_int(n.int_digits));
      j += 2;
    } else if (!korean && currency.empty() && !negative && !n.grouped && n.frac_digits.empty() &&
               n.int_digits.size() == 4 && (rest.empty() || rest[0] != '%') &&
               (n.int_digits[0] == '1' || n.int_digits[0] == '2') &&
               to_int(n.int_digits) >= 1100 && to_int(n.int_digits) <= 2099 &&
               !(rest.starts_with(" dollars"))) {
      words += year_to_words(static_cast<int>(to_int(n.int_digits)));
      if (rest.starts_with("s") && (rest.size() == 1 || !std::isalpha(static_cast<unsigned char>(rest[1])))) {
        // 1990s → nineteen nineties
        if (words.ends_with("y")) words = words.substr(0, words.size() - 1) + "ies";
        else words += "s";
        ++j;
      }
    } else {
      words += int_words(n.int_digits, korean);
      if (!n.frac_digits.empty()) {
        if (!currency.empty() && !korean && n.frac_digits.size() == 2) {
          // $2.50 → two dollars and fifty cents
        } else {
          words += korean ? " 점 " + sino_digits(n.frac_digits) : " point " + digits_words(n.frac_digits);
        }
      }
      if (!currency.empty()) {
        if (korean) {
          words += currency == "\u20A9" ? " 원" : currency == "$" ? " 달러" : currency == "\u20AC" ? " 유로" : " 파운드";
        } else {
          const bool one = n.int_digits == "1";
          const std::string unit = currency == "$" ? "dollar" : currency == "\u20AC" ? "euro"
                                   : currency == "\u00A3" ? "pound" : "won";
          words += " " + unit + (one || unit == "won" ? "" : "s");
          if (n.frac_digits.size() == 2 && to_int(n.frac_digits) > 0) {
            const int64_t cents = to_int(n.frac_digits);
            words += " and " + number_to_words(cents) + (cents == 1 ? " cent" : " cents");
          }
        }
      }
    }
    if (j < s.size() && s[j] == '%') {
      words += korean ? " 퍼센트" : " percent";
      ++j;
    }
    out += words;
    i = j;
  }
  return out;
}

std::string strip_inline(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    // Images and links: ![alt](url) / [text](url) → alt / text.
    if (s[i] == '[' || (s[i] == '!' && i + 1 < s.size() && s[i + 1] == '[')) {
      const size_t open = s[i] == '!' ? i + 1 : i;
      const size_t close = s.find(']', open);
      if (close != std::string_view::npos && close + 1 < s.size() && s[close + 1] == '(') {
        const size_t end = s.find(')', close);
        if (end != std::string_view::npos) {
          out += strip_inline(s.substr(open + 1, close - open - 1));
          i = end + 1;
          continue;
        }
      }
    }
    // Emphasis and code markers: **, __, *, `, ~~ (a lone _ inside words stays: snake_case).
    if (s[i] == '*' || s[i] == '`' || (s[i] == '~' && i + 1 < s.size() && s[i + 1] == '~')) {
      const bool bullet_like = s[i] == '*' && i + 1 < s.size() && s[i + 1] == ' ' &&
                               (i == 0 || s[i - 1] == ' ');
      if (!bullet_like) {
        ++i;
        continue;
      }
    }
    if (s[i] == '_' && i + 1 < s.size() && s[i + 1] == '_') {
      i += 2;
      continue;
    }
    out += s[i++];
  }
  return out;
}

}  // namespace

std::string number_to_words(int64_t n) {
  if (n < 0) return "minus " + number_to_words(-n);
  if (n < 1000) return below_thousand(static_cast<int>(n));
  // Scale groups from the lowest; read out from the highest.
  std::array<int, 7> groups{};
  for (int k = 0; k < 7 && n > 0; ++k, n /= 1000) groups[k] = static_cast<int>(n % 1000);
  static constexpr std::array<const char*, 7> kScale = {"", " thousand", " million", " billion",
                                                        " trillion", " quadrillion", " quintillion"};
  std::string out;
  for (int k = 6; k >= 0; --k) {
    if (!groups[k]) continue;
    if (!out.empty()) out += ' ';
    out += below_thousand(groups[k]);
    out += kScale[k];
  }
  return out;
}

std::string ordinal_to_words(int64_t n) {
  std::string w = number_to_words(n);
  struct Irregular {
    std::string_view card, ord;
  };
  static constexpr std::array<Irregular, 6> kIrr = {
      {{"one", "first"}, {"two", "second"}, {"three", "third"}, {"five", "fifth"},
       {"eight", "eighth"}, {"twelve", "twelfth"}}};
  // Only the last word changes.
  const size_t sep = w.find_last_of(" -");
  const std::string head = sep == std::string::npos ? "" : w.substr(0, sep + 1);
  std::string last = sep == std::string::npos ? w : w.substr(sep + 1);
  for (const auto& r : kIrr) {
    if (last == r.card) return head + std::string(r.ord);
  }
  if (last == "nine") return head + "ninth";
  if (last.ends_with("y")) return head + last.substr(0, last.size() - 1) + "ieth";
  return head + last + "th";
}

std::string year_to_words(int n) {
  if (n >= 2000 && n < 2010) return number_to_words(n);
  if (n % 100 == 0) return below_thousand(n / 100) + " hundred";
  const int lo = n % 100;
  return below_thousand(n / 100) + " " + (lo < 10 ? "oh " + below_thousand(lo) : below_thousand(lo));
}

std::string number_to_sino_korean(int64_t n) {
  if (n == 0) return "영";
  if (n < 0) return "마이너스 " + number_to_sino_korean(-n);
  static constexpr std::array<const char*, 10> kD = {"", "일", "이", "삼", "사",
                                                     "오", "육", "칠", "팔", "구"};
  static constexpr std::array<const char*, 4> kSmall = {"", "십", "백", "천"};
  static constexpr std::array<const char*, 5> kBig = {"", "만", "억", "조", "경"};
  std::string out;
  int big = 0;
  while (n > 0) {
    const int group = static_cast<int>(n % 10000);
    n /= 10000;
    if (group) {
      std::string g;
      for (int p = 3; p >= 0; --p) {
        int d = group;
        for (int k = 0; k < p; ++k) d /= 10;
        d %= 10;
        if (!d) continue;
        // 1 is silent before 십/백/천 (십, 백, 천, not 일십).
        if (!(d == 1 && p > 0)) g += kD[d];
        g += kSmall[p];
      }
      // 만 alone (10000 = 만, not 일만).
      if (g == "일" && big == 1) g = "";
      out = g + kBig[big] + out;
    }
    ++big;
  }
  return out;
}

std::string strip_markdown(std::string_view text) {
  std::string out;
  bool in_fence = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    const std::string t = trim(line);
    if (t.starts_with("```") || t.starts_with("~~~")) {
      in_fence = !in_fence;
      if (pos > text.size()) break;
      continue;
    }
    std::string_view l = t;
    if (!in_fence) {
      while (l.starts_with("#")) l.remove_prefix(1);
      while (l.starts_with(">")) l.remove_prefix(1);
      l = std::string_view(l).substr(std::min(l.find_first_not_of(' '), l.size()));
      if (l.starts_with("- ") || l.starts_with("* ") || l.starts_with("+ ")) l.remove_prefix(2);
      if (l == "---" || l == "***" || l == "___") l = "";
      // Table rows: cells separated by commas.
      if (l.starts_with("|")) {
        std::string row;
        for (char c : l) row += c == '|' ? ',' : c;
        const std::string r = trim(row);
        bool sep_row = r.find_first_not_of(",-: ") == std::string::npos;
        if (!out.empty() && !out.ends_with('\n')) out += '\n';
        if (!sep_row) out += trim(std::string_view(r).substr(1, r.size() > 1 ? r.size() - 2 : 0));
        if (pos > text.size()) break;
        continue;
      }
    }
    if (!out.empty()) out += '\n';
    out += in_fence ? std::string(l) : strip_inline(l);
    if (pos > text.size()) break;
  }
  return out;
}

std::string normalize_for_speech(std::string_view text, const std::string& language) {
  const bool korean = language == "ko" || has_hangul(text);
  const std::string plain = drop_emoji(strip_markdown(text));
  // Word by word: URLs, e-mails and abbreviations; then numbers inside the words.
  std::string out;
  size_t i = 0;
  while (i < plain.size()) {
    if (plain[i] == ' ' || plain[i] == '\n' || plain[i] == '\t') {
      if (!out.empty() && !out.ends_with(' ')) out += plain[i] == '\n' ? '\n' : ' ';
      ++i;
      continue;
    }
    size_t e = plain.find_first_of(" \n\t", i);
    if (e == std::string::npos) e = plain.size();
    std::string_view w = std::string_view(plain).substr(i, e - i);
    i = e;
    // Leading / trailing punctuation stays around the rewritten word.
    size_t b0 = 0;
    while (b0 < w.size() && (w[b0] == '(' || w[b0] == '"' || w[b0] == '\'' || w[b0] == '<')) ++b0;
    size_t e0 = w.size();
    while (e0 > b0 && std::string_view(".,;:!?)\"'>").find(w[e0 - 1]) != std::string_view::npos) --e0;
    const std::string_view lead = w.substr(0, b0), core = w.substr(b0, e0 - b0), tail = w.substr(e0);
    std::string rewritten;
    bool done = false;
    for (const auto& a : kAbbrev) {
      // Abbreviations keep their own dot: match on core + the first trailing dot.
      std::string_view with_dot = w.substr(b0, std::min(w.size(), e0 + 1) - b0);
      if (!korean && (with_dot == a.from || core == a.from)) {
        rewritten = std::string(lead) + std::string(a.to) +
                    std::string(with_dot == a.from ? w.substr(std::min(w.size(), e0 + 1)) : tail);
        done = true;
        break;
      }
    }
    if (!done && looks_like_email(core)) {
      const size_t at = core.find('@');
      rewritten = std::string(lead) + spell_host(core.substr(0, at)) + (korean ? " 골뱅이 " : " at ") +
                  spell_host(core.substr(at + 1)) + std::string(tail);
      done = true;
    }
    if (!done && looks_like_url(core)) {
      rewritten = std::string(lead) + speak_url(core) + std::string(tail);
      done = true;
    }
    if (!done) rewritten = speak_numbers(w, korean);
    out += rewritten;
  }
  return trim(out);
}

}  // namespace omni::pipeline
