#include "llm/jinja/lexer.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include "llm/jinja/error.h"

namespace omni::llm::jinja {

std::string describe_position(std::string_view src, size_t offset) {
  if (offset > src.size()) offset = src.size();
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset; ++i) {
    if (src[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

void throw_syntax_error(std::string_view src, size_t offset, const std::string& msg) {
  throw TemplateSyntaxError("chat template syntax error at " + describe_position(src, offset) +
                            ": " + msg);
}

std::string normalize_source(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, uint32_t cp) {
  if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  Lexer(std::string_view src, const LexOptions& opts) : src_(src), opts_(opts) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool strip_next = false;  // the previous tag ended with '-': drop leading whitespace
    while (true) {
      const size_t at = find_tag(pos);
      std::string text(src_.substr(pos, at - pos));
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      }
      strip_next = false;
      if (at < src_.size()) {
        const char kind = src_[at + 1];
        const char ctrl = at + 2 < src_.size() ? src_[at + 2] : '\0';
        if (ctrl == '-') {
          size_t k = text.size();
          while (k > 0 && is_space(text[k - 1])) --k;
          text.resize(k);
        } else if (ctrl != '+' && opts_.lstrip_blocks && kind != '{') {
          const size_t nl = text.rfind('\n');
          const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
          const bool line_starting = pos == 0 || src_[pos - 1] == '\n';
          if ((l_pos > 0 || line_starting) && l_pos < text.size()) {
            bool blank = true;
            for (size_t k = l_pos; k < text.size(); ++k) blank = blank && is_space(text[k]);
            if (blank) text.resize(l_pos);
          }
        }
      }
      if (!text.empty()) push(TokKind::kText, std::move(text), pos);
      if (at >= src_.size()) break;

      const char kind = src_[at + 1];
      size_t p = at + 2;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
      if (kind == '#') {
        const size_t end = src_.find("#}", p);
        if (end == std::string_view::npos) throw_syntax_error(src_, at, "unterminated comment");
        strip_next = end > p && src_[end - 1] == '-';
        pos = end + 2;
        if (!strip_next) pos = trim_newline(pos);
        continue;
      }
      const bool is_block = kind == '%';
      push(is_block ? TokKind::kBlockBegin : TokKind::kVarBegin, is_block ? "{%" : "{{", at);
      const size_t first_token = tokens_.size();
      pos = lex_expression(p, is_block, at, strip_next);
      if (is_block && tokens_.size() == first_token + 2 &&
          tokens_[first_token].kind == TokKind::kName && tokens_[first_token].text == "raw") {
        tokens_.resize(first_token - 1);
        pos = lex_raw(pos, at, strip_next);
        strip_next = false;
      }
    }
    push(TokKind::kEof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  void push(TokKind kind, std::string text, size_t offset) {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    t.offset = offset;
    tokens_.push_back(std::move(t));
  }

  size_t find_tag(size_t pos) const {
    while (true) {
      const size_t at = src_.find('{', pos);
      if (at == std::string_view::npos || at + 1 >= src_.size()) return src_.size();
      const char c = src_[at + 1];
      if (c == '{' || c == '%' || c == '#') return at;
      pos = at + 1;
    }
  }

  // trim_blocks: the first newline after a block or comment tag goes.
  size_t trim_newline(size_t pos) const {
    if (opts_.trim_blocks && pos < src_.size() && src_[pos] == '\n') return pos + 1;
    return pos;
  }

  // Tokens up to the closing }} or %} (only once brackets balance, as in Jinja2).
  size_t lex_expression(size_t p, bool is_block, size_t tag_start, bool& strip_next) {
    std::string open;  // closers expected, innermost last
    const char closer = is_block ? '%' : '}';
    while (true) {
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (p >= src_.size()) {
        throw_syntax_error(src_, tag_start, is_block ? "unterminated '{%' tag" : "unterminated '{{' tag");
      }
      if (open.empty()) {
        if (src_.compare(p, 3, std::string{'-', closer, '}'}) == 0) {
          push(is_block ? TokKind::kBlockEnd : TokKind::kVarEnd, "", p);
          strip_next = true;
          return p + 3;
        }
        if (src_.compare(p, 2, std::string{closer, '}'}) == 0) {
          push(is_block ? TokKind::kBlockEnd : TokKind::kVarEnd, "", p);
          return is_block ? trim_newline(p + 2) : p + 2;
        }
      }
      const char c = src_[p];
      if (is_name_start(c)) {
        size_t q = p;
        while (q < src_.size() && is_name_char(src_[q])) ++q;
        push(TokKind::kName, std::string(src_.substr(p, q - p)), p);
        p = q;
      } else if (is_digit(c)) {
        p = lex_number(p);
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        static const char* const kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* two : kTwo) {
          if (src_.compare(p, 2, two) == 0) op = two;
        }
        if (op.empty()) {
          if (std::string_view("+-*/%~<>=()[]{},.:|").find(c) == std::string_view::npos) {
            throw_syntax_error(src_, p, std::string("unexpected character '") + c + "'");
          }
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") {
          if (open.size() >= 1000) throw_syntax_error(src_, p, "brackets nested too deeply");
          open += op == "(" ? ')' : op == "[" ? ']' : '}';
        } else if (op == ")" || op == "]" || op == "}") {
          if (open.empty()) throw_syntax_error(src_, p, "unexpected '" + op + "'");
          if (open.back() != op[0]) {
            throw_syntax_error(src_, p,
                               "unexpected '" + op + "', expected '" + open.back() + "'");
          }
          open.pop_back();
        }
        push(TokKind::kOp, op, p);
        p += op.size();
      }
    }
  }

  size_t lex_number(size_t p) {
    const size_t start = p;
    auto digits = [&](size_t q) {
      while (q < src_.size() && (is_digit(src_[q]) || (src_[q] == '_' && q + 1 < src_.size() &&
                                                        is_digit(src_[q + 1])))) {
        ++q;
      }
      return q;
    };
    p = digits(p);
    bool is_float = false;
    if (p + 1 < src_.size() && src_[p] == '.' && is_digit(src_[p + 1])) {
      is_float = true;
      p = digits(p + 1);
    }
    if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
      size_t q = p + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && is_digit(src_[q])) {
        is_float = true;
        p = digits(q);
      }
    }
    std::string text;
    for (size_t k = start; k < p; ++k) {
      if (src_[k] != '_') text += src_[k];
    }
    Token t;
    t.offset = start;
    t.text = text;
    if (is_float) {
      t.kind = TokKind::kFloat;
      t.f = std::strtod(text.c_str(), nullptr);
    } else {
      t.kind = TokKind::kInt;
      auto res = std::from_chars(text.data(), text.data() + text.size(), t.i);
      if (res.ec != std::errc()) throw_syntax_error(src_, start, "integer literal too large");
    }
    tokens_.push_back(std::move(t));
    return p;
  }

  // Python string literal escapes (Jinja2 decodes literals with "unicode-escape").
  size_t lex_string(size_t p) {
    const char quote = src_[p];
    const size_t start = p++;
    std::string out;
    auto hex = [&](size_t at, int n) -> uint32_t {
      uint32_t v = 0;
      for (int k = 0; k < n; ++k) {
        const size_t q = at + static_cast<size_t>(k);
        if (q >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[q]))) {
          throw_syntax_error(src_, at - 2, "truncated \\x/\\u/\\U escape in string literal");
        }
        const char c = src_[q];
        v = v * 16 + static_cast<uint32_t>(is_digit(c) ? c - '0' : (std::tolower(c) - 'a' + 10));
      }
      return v;
    };
    while (true) {
      if (p >= src_.size()) throw_syntax_error(src_, start, "unterminated string literal");
      const char c = src_[p];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) throw_syntax_error(src_, start, "unterminated string literal");
      const char e = src_[p + 1];
      p += 2;
      switch (e) {
        case '\n': break;  // line continuation
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': append_utf8(out, hex(p, 2)); p += 2; break;
        case 'u': append_utf8(out, hex(p, 4)); p += 4; break;
        case 'U': {
          const uint32_t cp = hex(p, 8);
          if (cp > 0x10FFFF) throw_syntax_error(src_, p - 2, "\\U escape out of range");
          append_utf8(out, cp);
          p += 8;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k) {
              v = v * 8 + static_cast<uint32_t>(src_[p++] - '0');
            }
            append_utf8(out, v);
          } else {
            out += '\\';  // Python keeps unknown escapes as they are
            out += e;
          }
      }
    }
    push(TokKind::kString, std::move(out), start);
    return p + 1;
  }

  // {% raw %}...{% endraw %}: the body is text, tags and all.
  size_t lex_raw(size_t body, size_t tag_start, bool strip_body_start) {
    size_t search = body;
    while (true) {
      const size_t at = src_.find("{%", search);
      if (at == std::string_view::npos) throw_syntax_error(src_, tag_start, "missing endraw");
      size_t p = at + 2;
      const bool strip_before = p < src_.size() && src_[p] == '-';
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
      while (p < src_.size() && is_space(src_[p])) ++p;
      if (src_.compare(p, 6, "endraw") != 0) {
        search = at + 2;
        continue;
      }
      p += 6;
      while (p < src_.size() && is_space(src_[p])) ++p;
      bool strip_after = false;
      if (p < src_.size() && src_[p] == '-') {
        strip_after = true;
        ++p;
      }
      if (src_.compare(p, 2, "%}") != 0) throw_syntax_error(src_, at, "malformed endraw tag");
      std::string text(src_.substr(body, at - body));
      if (strip_body_start) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      }
      if (strip_before) {
        size_t k = text.size();
        while (k > 0 && is_space(text[k - 1])) --k;
        text.resize(k);
      }
      if (!text.empty()) push(TokKind::kText, std::move(text), body);
      p += 2;
      if (strip_after) {
        while (p < src_.size() && is_space(src_[p])) ++p;
        return p;
      }
      return trim_newline(p);
    }
  }

  std::string_view src_;
  LexOptions opts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(std::string_view src, const LexOptions& opts) {
  return Lexer(src, opts).run();
}

}  // namespace omni::llm::jinja
