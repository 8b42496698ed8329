// Tokens (lexer.h) to a syntax tree (ast.h). Recursive descent with Jinja2's operator
// precedence; syntax errors carry the line and column. Nesting depth is capped so that hostile
// templates cannot exhaust the stack.
#pragma once

#include <string_view>
#include <vector>

#include "llm/jinja/ast.h"
#include "llm/jinja/lexer.h"

namespace omni::llm::jinja {

// src is the normalized source the tokens came from (for error positions).
Body parse(std::string_view src, const std::vector<Token>& tokens);

}  // namespace omni::llm::jinja
