// The syntax tree of a parsed template: expressions (Expr) and statements (Node). One generic
// node type per layer keeps the parser and evaluator small; `kids` is read per kind as noted.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "llm/jinja/value.h"

namespace omni::llm::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // literal
    kName,     // name
    kList,     // kids: items
    kTuple,    // kids: items (evaluates to a list)
    kDict,     // kids: key0, value0, key1, value1, ...
    kUnary,    // name: "-" or "+"; kids[0]
    kBinary,   // name: operator (+ - * / // % ** ~ and or); kids[0], kids[1]
    kNot,      // kids[0]
    kCompare,  // kids[0..n]; ops[i] joins kids[i] and kids[i+1] (== != < <= > >= in notin)
    kCond,     // kids: then, test, else (else may be null)
    kGetAttr,  // kids[0]; name
    kGetItem,  // kids[0], kids[1]
    kSlice,    // kids[0]; kids[1..3]: start, stop, step (each may be null)
    kCall,     // kids[0]: callee; kids[1..]: arguments, the last kwnames.size() of them keyword
    kFilter,   // kids[0]: operand (null inside {% filter %}); kids[1..]: arguments; name
    kTest,     // kids[0]: operand; kids[1..]: arguments; name; negated
  };
  Kind kind;
  size_t offset = 0;
  std::string name;
  Value literal;
  std::vector<ExprPtr> kids;
  std::vector<std::string> kwnames;
  std::vector<std::string> ops;
  bool negated = false;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    kText,         // text
    kOutput,       // {{ expr }}
    kIf,           // conds[i] guards bodies[i]; bodies.back() is the else body when
                   // bodies.size() > conds.size()
    kFor,          // targets in expr [if cond]: bodies[0], else bodies[1]
    kSet,          // targets (or target + attr) = expr
    kSetBlock,     // targets[0] = rendered bodies[0]
    kMacro,        // name(targets, defaults): bodies[0]
    kFilterBlock,  // expr: filter chain applied to rendered bodies[0]
    kDo,           // evaluate expr, output nothing
    kBreak,
    kContinue,
    kBlock,        // bodies[0] inline ({% generation %})
  };
  Kind kind;
  size_t offset = 0;
  std::string text;
  std::string attr;  // kSet: `set ns.attr = ...`
  ExprPtr expr;
  ExprPtr cond;
  std::vector<ExprPtr> conds;
  std::vector<std::string> targets;
  std::vector<ExprPtr> defaults;
  std::vector<Body> bodies;
};

}  // namespace omni::llm::jinja
