// Renders a parsed template: evaluates expressions over Values, runs statements with Jinja2's
// scoping (for-loop bodies and macros get their own scope, `if` does not; namespace() objects
// carry state out of loops), and enforces limits so that hostile templates end with an error
// instead of hanging or exhausting memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llm/jinja/ast.h"
#include "llm/jinja/limits.h"
#include "llm/jinja/value.h"

namespace omni::llm::jinja {


class Interpreter {
 public:
  Interpreter(std::string_view src, const Limits& limits) : src_(src), limits_(limits) {}

  // Renders body with `globals` as the outermost scope.
  std::string render(const Body& body, std::unordered_map<std::string, Value> globals);

  // Used by the builtins.
  const Limits& limits() const { return limits_; }
  void check_string(size_t size) const;
  void check_items(size_t count) const;
  void step();
  Value apply_filter(const std::string& name, const Value& operand, CallArgs& args);
  bool apply_test(const std::string& name, const Value& v, CallArgs& args);
  Value call(const Value& fn, CallArgs& args);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Frame = std::unordered_map<std::string, Value>;

  Flow exec(const Body& body, std::string& out);
  Flow exec_node(const Node& n, std::string& out);
  Flow exec_node_inner(const Node& n, std::string& out);
  void exec_for(const Node& n, std::string& out);
  void exec_set(const Node& n, Value v);
  void define_macro(const Node& n);
  Value call_macro(const Node& n, CallArgs& args);
  void emit(std::string& out, std::string_view s);

  Value eval(const Expr& e);
  Value eval_inner(const Expr& e);
  Value eval_binary(const Expr& e);
  Value eval_compare(const Expr& e);
  Value eval_call(const Expr& e);
  CallArgs eval_args(const Expr& e, size_t first);

  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);

  std::string_view src_;
  Limits limits_;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  int depth_ = 0;  // evaluation nesting (bounds the C++ stack)
  struct DepthGuard;
  std::vector<Frame> frames_;
  size_t base_ = 0;  // inside a macro: frames below base_ (except the globals) are hidden
};

// Builtins (builtins.cc): filters, tests, methods of strings / lists / dicts, global functions.
Value builtin_filter(Interpreter& in, const std::string& name, const Value& v, CallArgs& args);
bool builtin_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& args);
Value builtin_method(Interpreter& in, const Value& obj, const std::string& name, CallArgs& args);
Value get_attr(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);
// Items of an iterable as Python iterates them (dict: keys, string: characters).
ValueList iterate(const Value& v);

}  // namespace omni::llm::jinja
