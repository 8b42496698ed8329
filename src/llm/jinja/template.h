// A compiled Jinja2 template: the engine behind chat templates (tokenizer.chat_template).
//
//   jinja::Template t(text);                 // throws TemplateSyntaxError with line/column
//   std::string s = t.render(globals);       // throws omni::Error (TemplateRaised for
//                                            // raise_exception) with the template position
//
// Supported: {{ }}, {% %}, {# #}, whitespace control, trim_blocks / lstrip_blocks, if / for
// (else, filters, loop.*, unpacking) / set (namespace attributes, block set) / macro / filter /
// break / continue / do / raw / generation, Jinja2's expression language, the filters, tests and
// str/list/dict methods chat templates use. Undefined values are falsy and print as nothing;
// attribute access on them yields undefined again (like Jinja2's ChainableUndefined); using them
// in arithmetic or calling them is an error.
#pragma once

#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "llm/jinja/ast.h"
#include "llm/jinja/interpreter.h"
#include "llm/jinja/lexer.h"

namespace omni::llm::jinja {

class Template {
 public:
  explicit Template(std::string_view text, const LexOptions& opts = {});
  std::string render(std::unordered_map<std::string, Value> globals, const Limits& limits = {}) const;

 private:
  std::string src_;
  Body body_;
};

// The global functions templates expect: range, namespace, dict, raise_exception and
// strftime_now (formatting the broken-down time `clock` returns). Entries already in `globals`
// are kept.
void add_builtin_globals(std::unordered_map<std::string, Value>& globals,
                         std::function<std::tm()> clock);

}  // namespace omni::llm::jinja
