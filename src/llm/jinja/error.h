// Errors of the template engine. Syntax errors point at a line and column of the template text
// (a model file's metadata: input at fault, hence FormatError); runtime errors name the line too.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace omni::llm::jinja {

class TemplateSyntaxError : public FormatError {
 public:
  using FormatError::FormatError;
};

// The template called raise_exception(msg): what() is exactly msg (templates use it to reject a
// conversation, e.g. roles that do not alternate; the message is meant for the user).
class TemplateRaised : public Error {
 public:
  using Error::Error;
};

// A runtime failure inside the evaluator (bad operand types, undefined call, limits). The
// interpreter adds the template position of the expression before it leaves render().
class EvalError : public Error {
 public:
  using Error::Error;
};

// "line 3, column 7" (both 1-based) of a byte offset in src.
std::string describe_position(std::string_view src, size_t offset);

[[noreturn]] void throw_syntax_error(std::string_view src, size_t offset, const std::string& msg);

}  // namespace omni::llm::jinja
