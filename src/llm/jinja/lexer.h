// Splits template text into text runs and the tokens of {{ ... }} / {% ... %} tags, applying
// whitespace control ({%- -%} {{- -}} {#- -#}, {%+) and the trim_blocks / lstrip_blocks options
// the way Jinja2's lexer does. Comments are dropped; {% raw %} bodies become text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace omni::llm::jinja {

enum class TokKind : uint8_t {
  kText,
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,
  kInt,
  kFloat,
  kOp,  // punctuation and operators: + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
  kEof,
};

struct Token {
  TokKind kind;
  std::string text;  // text run, name, decoded string literal or operator
  int64_t i = 0;
  double f = 0;
  size_t offset = 0;  // byte offset in the (newline-normalized) source
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Jinja2 normalizes \r\n and \r to \n (in text and string literals alike) and, unless
// keep_trailing_newline is set, drops one trailing newline.
std::string normalize_source(std::string_view src);

// Throws TemplateSyntaxError (with line and column) on an unterminated tag, comment or string,
// or a character that cannot start a token.
std::vector<Token> lex(std::string_view src, const LexOptions& opts);

}  // namespace omni::llm::jinja
