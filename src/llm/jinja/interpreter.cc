#include "llm/jinja/interpreter.h"

#include <cmath>
#include <limits>
#include <optional>

#include "llm/jinja/error.h"

namespace omni::llm::jinja {

namespace {

[[noreturn]] void undefined_error(const Value& v) {
  if (v.name().empty()) throw EvalError("value is undefined");
  throw EvalError("'" + v.name() + "' is undefined");
}

[[noreturn]] void operand_error(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) undefined_error(a);
  if (b.is_undefined()) undefined_error(b);
  throw EvalError("unsupported operand types for " + op + ": " + a.type_name() + " and " +
                  b.type_name());
}

bool numeric(const Value& v) { return v.is_number() || v.is_bool(); }
int64_t as_i(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : v.as_int(); }
double as_f(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1.0 : 0.0) : v.as_double(); }

int64_t floor_div(int64_t a, int64_t b) {
  if (b == -1 && a == std::numeric_limits<int64_t>::min()) throw EvalError("integer overflow");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) throw EvalError("'in <string>' requires a string as left operand");
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const auto& x : container.as_list()) {
      if (values_equal(x, item)) return true;
    }
    return false;
  }
  if (container.is_dict()) {
    return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
  }
  if (container.is_undefined()) return false;
  throw EvalError("argument of type " + container.type_name() + " is not iterable");
}

}  // namespace

struct Interpreter::DepthGuard {
  explicit DepthGuard(Interpreter& in) : in_(in) {
    if (++in_.depth_ > in_.limits_.max_depth) {
      --in_.depth_;
      throw EvalError("template evaluation nested too deeply");
    }
  }
  ~DepthGuard() { --in_.depth_; }
  Interpreter& in_;
};

void Interpreter::check_string(size_t size) const {
  if (size > limits_.max_string) throw EvalError("string too long");
}

void Interpreter::check_items(size_t count) const {
  if (count > limits_.max_items) throw EvalError("list too long");
}

void Interpreter::step() {
  if (++steps_ > limits_.max_steps) throw EvalError("template takes too many steps");
}

std::string Interpreter::render(const Body& body, std::unordered_map<std::string, Value> globals) {
  frames_.clear();
  frames_.push_back(std::move(globals));
  base_ = 0;
  steps_ = 0;
  call_depth_ = 0;
  depth_ = 0;
  std::string out;
  exec(body, out);
  return out;
}

void Interpreter::emit(std::string& out, std::string_view s) {
  if (out.size() + s.size() > limits_.max_output) throw EvalError("rendered text too long");
  out += s;
}

Value Interpreter::lookup(const std::string& name) const {
  for (size_t i = frames_.size(); i-- > base_;) {
    auto it = frames_[i].find(name);
    if (it != frames_[i].end()) return it->second;
  }
  if (base_ > 0) {
    auto it = frames_[0].find(name);
    if (it != frames_[0].end()) return it->second;
  }
  return Value::undefined(name);
}

void Interpreter::assign(const std::string& name, Value v) { frames_.back()[name] = std::move(v); }

// ---------------------------------------------------------------- statements

Interpreter::Flow Interpreter::exec(const Body& body, std::string& out) {
  for (const auto& n : body) {
    Flow f = exec_node(*n, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_node(const Node& n, std::string& out) {
  try {
    DepthGuard guard(*this);
    return exec_node_inner(n, out);
  } catch (const TemplateRaised&) {
    throw;
  } catch (const EvalError& err) {
    throw Error("chat template error at " + describe_position(src_, n.offset) + ": " + err.what());
  }
}

Interpreter::Flow Interpreter::exec_node_inner(const Node& n, std::string& out) {
  switch (n.kind) {
    case Node::Kind::kText: emit(out, n.text); break;
    case Node::Kind::kOutput: {
      const Value v = eval(*n.expr);
      if (v.is_string()) {
        emit(out, v.as_string());
      } else {
        emit(out, v.to_str());
      }
      break;
    }
    case Node::Kind::kIf: {
      for (size_t i = 0; i < n.conds.size(); ++i) {
        if (eval(*n.conds[i]).truthy()) return exec(n.bodies[i], out);
      }
      if (n.bodies.size() > n.conds.size()) return exec(n.bodies.back(), out);
      break;
    }
    case Node::Kind::kFor: exec_for(n, out); break;
    case Node::Kind::kSet: exec_set(n, eval(*n.expr)); break;
    case Node::Kind::kSetBlock: {
      std::string s;
      frames_.emplace_back();
      exec(n.bodies[0], s);
      frames_.pop_back();
      exec_set(n, Value::string(std::move(s)));
      break;
    }
    case Node::Kind::kMacro: define_macro(n); break;
    case Node::Kind::kFilterBlock: {
      std::string s;
      exec(n.bodies[0], s);
      // Apply the chain innermost first: the operand slot of the innermost filter is empty.
      std::vector<const Expr*> chain;
      for (const Expr* f = n.expr.get(); f; f = f->kids[0].get()) chain.push_back(f);
      Value v = Value::string(std::move(s));
      for (size_t i = chain.size(); i-- > 0;) {
        CallArgs args = eval_args(*chain[i], 1);
        v = apply_filter(chain[i]->name, v, args);
      }
      emit(out, v.is_string() ? v.as_string() : v.to_str());
      break;
    }
    case Node::Kind::kDo: eval(*n.expr); break;
    case Node::Kind::kBreak: return Flow::kBreak;
    case Node::Kind::kContinue: return Flow::kContinue;
    case Node::Kind::kBlock: return exec(n.bodies[0], out);
  }
  return Flow::kNormal;
}

void Interpreter::exec_set(const Node& n, Value v) {
  if (!n.attr.empty()) {
    Value target = lookup(n.targets[0]);
    if (!target.is_dict() || !target.as_dict().is_namespace) {
      throw EvalError("cannot assign attribute '" + n.attr + "' on " + target.type_name() +
                      " (only on namespace objects)");
    }
    check_insert(target, v);
    target.as_dict().set(n.attr, std::move(v));
    return;
  }
  if (n.targets.size() == 1) {
    assign(n.targets[0], std::move(v));
    return;
  }
  ValueList items = iterate(v);
  if (items.size() != n.targets.size()) {
    throw EvalError("cannot unpack " + std::to_string(items.size()) + " values into " +
                    std::to_string(n.targets.size()) + " names");
  }
  for (size_t i = 0; i < items.size(); ++i) assign(n.targets[i], std::move(items[i]));
}

void Interpreter::exec_for(const Node& n, std::string& out) {
  const Value seq = eval(*n.expr);
  if (seq.is_none()) throw EvalError("'None' is not iterable");
  ValueList all = iterate(seq);
  auto bind = [&](Frame& f, const Value& item) {
    if (n.targets.size() == 1) {
      f[n.targets[0]] = item;
      return;
    }
    ValueList parts = iterate(item);
    if (parts.size() != n.targets.size()) {
      throw EvalError("cannot unpack " + std::to_string(parts.size()) + " values into " +
                      std::to_string(n.targets.size()) + " loop variables");
    }
    for (size_t i = 0; i < parts.size(); ++i) f[n.targets[i]] = parts[i];
  };
  ValueList items;
  if (n.cond) {
    for (auto& item : all) {
      step();
      frames_.emplace_back();
      bind(frames_.back(), item);
      const bool keep = eval(*n.cond).truthy();
      frames_.pop_back();
      if (keep) items.push_back(std::move(item));
    }
  } else {
    items = std::move(all);
  }
  const int64_t len = static_cast<int64_t>(items.size());
  // One loop object per loop, updated in place: building a fresh one per iteration dominated
  // the cost of tight loops.
  auto index = std::make_shared<int64_t>(0);
  const Value cycle = Value::function("cycle", [index](Interpreter&, CallArgs& a) {
    if (a.positional.empty()) throw EvalError("loop.cycle needs arguments");
    return a.positional[static_cast<size_t>(*index) % a.positional.size()];
  });
  const Value loop = Value::dict();
  ValueDict& d = loop.as_dict();
  for (int64_t i = 0; i < len; ++i) {
    step();
    *index = i;
    d.set("index", Value::integer(i + 1));
    d.set("index0", Value::integer(i));
    d.set("revindex", Value::integer(len - i));
    d.set("revindex0", Value::integer(len - i - 1));
    d.set("first", Value::boolean(i == 0));
    d.set("last", Value::boolean(i == len - 1));
    d.set("length", Value::integer(len));
    d.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem"));
    d.set("nextitem",
          i + 1 < len ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem"));
    d.set("cycle", cycle);
    frames_.emplace_back();
    bind(frames_.back(), items[static_cast<size_t>(i)]);
    frames_.back()["loop"] = loop;
    Flow f = exec(n.bodies[0], out);
    frames_.pop_back();
    if (f == Flow::kBreak) break;
  }
  if (len == 0 && n.bodies.size() > 1) {
    frames_.emplace_back();
    exec(n.bodies[1], out);
    frames_.pop_back();
  }
}

void Interpreter::define_macro(const Node& n) {
  const Node* node = &n;
  assign(n.text, Value::function(n.text, [node](Interpreter& in, CallArgs& args) {
           return in.call_macro(*node, args);
         }));
}

Value Interpreter::call_macro(const Node& n, CallArgs& args) {
  if (call_depth_ >= limits_.max_call_depth) throw EvalError("macro calls nested too deeply");
  if (args.positional.size() > n.targets.size()) {
    throw EvalError("macro '" + n.text + "' takes " + std::to_string(n.targets.size()) +
                    " arguments");
  }
  Frame f;
  for (size_t i = 0; i < n.targets.size(); ++i) {
    if (i < args.positional.size()) {
      f[n.targets[i]] = args.positional[i];
    } else if (n.defaults[i]) {
      f[n.targets[i]] = eval(*n.defaults[i]);
    } else {
      f[n.targets[i]] = Value::undefined(n.targets[i]);
    }
  }
  for (auto& [k, v] : args.keyword) {
    bool known = false;
    for (const auto& t : n.targets) known = known || t == k;
    if (!known) throw EvalError("macro '" + n.text + "' has no argument '" + k + "'");
    f[k] = v;
  }
  const size_t saved_base = base_;
  frames_.push_back(std::move(f));
  base_ = frames_.size() - 1;
  ++call_depth_;
  std::string out;
  try {
    exec(n.bodies[0], out);
  } catch (...) {
    --call_depth_;
    base_ = saved_base;
    frames_.pop_back();
    throw;
  }
  --call_depth_;
  base_ = saved_base;
  frames_.pop_back();
  return Value::string(std::move(out));
}

// ---------------------------------------------------------------- expressions

Value Interpreter::eval(const Expr& e) {
  step();
  try {
    DepthGuard guard(*this);
    return eval_inner(e);
  } catch (const TemplateRaised&) {
    throw;
  } catch (const EvalError& err) {
    // The innermost expression names the position; outer ones pass the error on untouched.
    throw Error("chat template error at " + describe_position(src_, e.offset) + ": " + err.what());
  }
}

CallArgs Interpreter::eval_args(const Expr& e, size_t first) {
  CallArgs args;
  const size_t n_kw = e.kwnames.size();
  const size_t n_pos = e.kids.size() - first - n_kw;
  for (size_t i = 0; i < n_pos; ++i) args.positional.push_back(eval(*e.kids[first + i]));
  for (size_t i = 0; i < n_kw; ++i) {
    args.keyword.emplace_back(e.kwnames[i], eval(*e.kids[first + n_pos + i]));
  }
  return args;
}

Value Interpreter::eval_inner(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLiteral: return e.literal;
    case Expr::Kind::kName: return lookup(e.name);
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      ValueList items;
      for (const auto& k : e.kids) items.push_back(eval(*k));
      return Value::list(std::move(items));
    }
    case Expr::Kind::kDict: {
      Value d = Value::dict();
      for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
        const Value k = eval(*e.kids[i]);
        if (!k.is_string()) throw EvalError("dict keys must be strings");
        d.as_dict().set(k.as_string(), eval(*e.kids[i + 1]));
      }
      return d;
    }
    case Expr::Kind::kUnary: {
      const Value v = eval(*e.kids[0]);
      if (!numeric(v)) {
        if (v.is_undefined()) undefined_error(v);
        throw EvalError("bad operand type for unary " + e.name + ": " + v.type_name());
      }
      if (e.name == "+") return v.is_bool() ? Value::integer(as_i(v)) : v;
      if (v.is_float()) return Value::number(-v.as_double());
      if (as_i(v) == std::numeric_limits<int64_t>::min()) throw EvalError("integer overflow");
      return Value::integer(-as_i(v));
    }
    case Expr::Kind::kBinary: return eval_binary(e);
    case Expr::Kind::kNot: return Value::boolean(!eval(*e.kids[0]).truthy());
    case Expr::Kind::kCompare: return eval_compare(e);
    case Expr::Kind::kCond: {
      if (eval(*e.kids[1]).truthy()) return eval(*e.kids[0]);
      return e.kids[2] ? eval(*e.kids[2]) : Value::undefined();
    }
    case Expr::Kind::kGetAttr: return get_attr(eval(*e.kids[0]), e.name);
    case Expr::Kind::kGetItem: {
      const Value obj = eval(*e.kids[0]);
      return get_item(obj, eval(*e.kids[1]));
    }
    case Expr::Kind::kSlice: {
      const Value obj = eval(*e.kids[0]);
      std::optional<int64_t> bounds[3];
      for (int i = 0; i < 3; ++i) {
        if (!e.kids[1 + i]) continue;
        const Value b = eval(*e.kids[1 + i]);
        if (b.is_none()) continue;
        if (!b.is_int() && !b.is_bool()) throw EvalError("slice indices must be integers");
        bounds[i] = as_i(b);
      }
      const int64_t step_v = bounds[2].value_or(1);
      if (step_v == 0) throw EvalError("slice step cannot be zero");
      std::vector<std::string_view> chars;
      int64_t n = 0;
      if (obj.is_string()) {
        chars = utf8_chars(obj.as_string());
        n = static_cast<int64_t>(chars.size());
      } else if (obj.is_list()) {
        n = static_cast<int64_t>(obj.as_list().size());
      } else {
        return Value::undefined();  // Jinja2: a failed subscript is undefined
      }
      // Python's slice.indices().
      auto clamp = [&](std::optional<int64_t> b, int64_t dflt) {
        if (!b) return dflt;
        int64_t v = *b;
        if (v < 0) v = std::max<int64_t>(v + n, step_v < 0 ? -1 : 0);
        if (v >= n) v = step_v < 0 ? n - 1 : n;
        return v;
      };
      const int64_t start = clamp(bounds[0], step_v < 0 ? n - 1 : 0);
      const int64_t stop = clamp(bounds[1], step_v < 0 ? -1 : n);
      std::vector<size_t> picks;
      for (int64_t i = start; step_v > 0 ? i < stop : i > stop;) {
        picks.push_back(static_cast<size_t>(i));
        if (__builtin_add_overflow(i, step_v, &i)) break;
      }
      if (obj.is_string()) {
        std::string s;
        for (size_t i : picks) s += chars[i];
        return Value::string(std::move(s));
      }
      ValueList items;
      for (size_t i : picks) items.push_back(obj.as_list()[i]);
      return Value::list(std::move(items));
    }
    case Expr::Kind::kCall: return eval_call(e);
    case Expr::Kind::kFilter: {
      const Value v = eval(*e.kids[0]);
      CallArgs args = eval_args(e, 1);
      return apply_filter(e.name, v, args);
    }
    case Expr::Kind::kTest: {
      const Value v = eval(*e.kids[0]);
      CallArgs args = eval_args(e, 1);
      return Value::boolean(apply_test(e.name, v, args) != e.negated);
    }
  }
  throw EvalError("bad expression");
}

Value Interpreter::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  if (op == "and") {
    Value a = eval(*e.kids[0]);
    return a.truthy() ? eval(*e.kids[1]) : a;
  }
  if (op == "or") {
    Value a = eval(*e.kids[0]);
    return a.truthy() ? a : eval(*e.kids[1]);
  }
  const Value a = eval(*e.kids[0]);
  const Value b = eval(*e.kids[1]);
  if (op == "~") {
    std::string s = a.to_str();
    const std::string t = b.to_str();
    check_string(s.size() + t.size());
    return Value::string(s + t);
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      check_string(a.as_string().size() + b.as_string().size());
      return Value::string(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list()) {
      check_items(a.as_list().size() + b.as_list().size());
      ValueList items = a.as_list();
      items.insert(items.end(), b.as_list().begin(), b.as_list().end());
      return Value::list(std::move(items));
    }
  }
  if (op == "*") {
    const Value* seq = a.is_string() || a.is_list() ? &a : b.is_string() || b.is_list() ? &b : nullptr;
    const Value* count = seq == &a ? &b : &a;
    if (seq && (count->is_int() || count->is_bool())) {
      const int64_t k = std::max<int64_t>(0, as_i(*count));
      if (seq->is_string()) {
        const size_t len = seq->as_string().size();
        if (len && static_cast<uint64_t>(k) > limits_.max_string / len) check_string(SIZE_MAX);
        std::string s;
        for (int64_t i = 0; i < k; ++i) s += seq->as_string();
        return Value::string(std::move(s));
      }
      const size_t len = seq->as_list().size();
      if (len && static_cast<uint64_t>(k) > limits_.max_items / len) check_items(SIZE_MAX);
      ValueList items;
      for (int64_t i = 0; i < k; ++i) {
        items.insert(items.end(), seq->as_list().begin(), seq->as_list().end());
      }
      return Value::list(std::move(items));
    }
  }
  if (!numeric(a) || !numeric(b)) operand_error(op, a, b);
  const bool use_float = a.is_float() || b.is_float() || op == "/";
  if (op == "/" || (use_float && (op == "//" || op == "%")) ) {
    const double y = as_f(b);
    if (y == 0) throw EvalError("division by zero");
    const double x = as_f(a);
    if (op == "/") return Value::number(x / y);
    const double q = std::floor(x / y);
    if (op == "//") return Value::number(q);
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return Value::number(r);
  }
  if (op == "**") {
    if (use_float || as_i(b) < 0) {
      const double r = std::pow(as_f(a), as_f(b));
      return Value::number(r);
    }
    int64_t base = as_i(a), ex = as_i(b), r = 1;
    while (ex > 0) {
      if (ex & 1) {
        if (__builtin_mul_overflow(r, base, &r)) throw EvalError("integer overflow");
      }
      ex >>= 1;
      if (ex > 0 && __builtin_mul_overflow(base, base, &base)) throw EvalError("integer overflow");
    }
    return Value::integer(r);
  }
  if (use_float) {
    const double x = as_f(a), y = as_f(b);
    if (op == "+") return Value::number(x + y);
    if (op == "-") return Value::number(x - y);
    if (op == "*") return Value::number(x * y);
  } else {
    const int64_t x = as_i(a), y = as_i(b);
    int64_t r = 0;
    bool overflow = false;
    if (op == "+") {
      overflow = __builtin_add_overflow(x, y, &r);
    } else if (op == "-") {
      overflow = __builtin_sub_overflow(x, y, &r);
    } else if (op == "*") {
      overflow = __builtin_mul_overflow(x, y, &r);
    } else if (op == "//" || op == "%") {
      if (y == 0) throw EvalError("integer division or modulo by zero");
      r = op == "//" ? floor_div(x, y) : floor_mod(x, y);
    }
    if (overflow) throw EvalError("integer overflow");
    return Value::integer(r);
  }
  operand_error(op, a, b);
}

Value Interpreter::eval_compare(const Expr& e) {
  Value left = eval(*e.kids[0]);
  for (size_t i = 0; i < e.ops.size(); ++i) {
    Value right = eval(*e.kids[i + 1]);
    const std::string& op = e.ops[i];
    bool r = false;
    if (op == "==") {
      r = values_equal(left, right);
    } else if (op == "!=") {
      r = !values_equal(left, right);
    } else if (op == "<") {
      r = value_less(left, right);
    } else if (op == ">") {
      r = value_less(right, left);
    } else if (op == "<=") {
      r = !value_less(right, left);
    } else if (op == ">=") {
      r = !value_less(left, right);
    } else if (op == "in") {
      r = contains(right, left);
    } else {
      r = !contains(right, left);
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Interpreter::eval_call(const Expr& e) {
  const Expr& callee = *e.kids[0];
  if (callee.kind == Expr::Kind::kGetAttr) {
    const Value obj = eval(*callee.kids[0]);
    CallArgs args = eval_args(e, 1);
    if (obj.is_dict()) {
      if (const Value* f = obj.as_dict().find(callee.name); f && f->is_function()) {
        return call(*f, args);
      }
    }
    return builtin_method(*this, obj, callee.name, args);
  }
  const Value fn = eval(callee);
  CallArgs args = eval_args(e, 1);
  return call(fn, args);
}

Value Interpreter::call(const Value& fn, CallArgs& args) {
  if (fn.is_undefined()) undefined_error(fn);
  if (!fn.is_function()) throw EvalError(fn.type_name() + " object is not callable");
  return fn.as_function()(*this, args);
}

Value Interpreter::apply_filter(const std::string& name, const Value& operand, CallArgs& args) {
  return builtin_filter(*this, name, operand, args);
}

bool Interpreter::apply_test(const std::string& name, const Value& v, CallArgs& args) {
  return builtin_test(*this, name, v, args);
}

}  // namespace omni::llm::jinja
