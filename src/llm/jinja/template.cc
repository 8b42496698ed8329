#include "llm/jinja/template.h"

#include "llm/jinja/error.h"
#include "llm/jinja/parser.h"

namespace omni::llm::jinja {

Template::Template(std::string_view text, const LexOptions& opts) : src_(normalize_source(text)) {
  body_ = parse(src_, lex(src_, opts));
}

std::string Template::render(std::unordered_map<std::string, Value> globals,
                             const Limits& limits) const {
  Interpreter in(src_, limits);
  return in.render(body_, std::move(globals));
}

}  // namespace omni::llm::jinja
