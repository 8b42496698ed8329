// Global functions of the template environment (see template.h).
#include <algorithm>

#include "llm/jinja/error.h"
#include "llm/jinja/template.h"

namespace omni::llm::jinja {

namespace {

// Jinja2's sandbox caps range() at this many items; so do we.
constexpr int64_t kMaxRange = 100000;

Value range(Interpreter&, CallArgs& a) {
  if (!a.keyword.empty()) throw EvalError("range() takes no keyword arguments");
  int64_t v[3] = {0, 0, 1};
  const size_t n = a.positional.size();
  if (n < 1 || n > 3) throw EvalError("range() takes 1 to 3 arguments");
  for (size_t i = 0; i < n; ++i) {
    if (!a.positional[i].is_int()) throw EvalError("range() arguments must be integers");
  }
  if (n == 1) {
    v[1] = a.positional[0].as_int();
  } else {
    v[0] = a.positional[0].as_int();
    v[1] = a.positional[1].as_int();
    if (n == 3) v[2] = a.positional[2].as_int();
  }
  if (v[2] == 0) throw EvalError("range() step must not be zero");
  ValueList out;
  for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1];) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange) throw EvalError("range() too large");
    out.push_back(Value::integer(i));
    if (__builtin_add_overflow(i, v[2], &i)) break;
  }
  return Value::list(std::move(out));
}

Value make_dict(CallArgs& a, bool ns) {
  Value d = Value::dict();
  d.as_dict().is_namespace = ns;
  for (const auto& p : a.positional) {
    if (!p.is_dict()) throw EvalError("expected keyword arguments or a dict");
    for (const auto& [k, v] : p.as_dict().items()) d.as_dict().set(k, v);
  }
  for (const auto& [k, v] : a.keyword) d.as_dict().set(k, v);
  return d;
}

}  // namespace

void add_builtin_globals(std::unordered_map<std::string, Value>& globals,
                         std::function<std::tm()> clock) {
  auto add = [&](const char* name, Function fn) {
    if (!globals.count(name)) globals[name] = Value::function(name, std::move(fn));
  };
  add("range", range);
  add("namespace", [](Interpreter&, CallArgs& a) { return make_dict(a, true); });
  add("dict", [](Interpreter&, CallArgs& a) { return make_dict(a, false); });
  add("raise_exception", [](Interpreter&, CallArgs& a) -> Value {
    throw TemplateRaised(a.positional.empty() ? std::string("raise_exception() called")
                                              : a.positional[0].to_str());
  });
  add("strftime_now", [clock](Interpreter&, CallArgs& a) {
    if (a.positional.size() != 1 || !a.positional[0].is_string()) {
      throw EvalError("strftime_now() takes one format string");
    }
    const std::string& fmt = a.positional[0].as_string();
    if (fmt.empty() || fmt.size() > 256) return Value::string("");
    const std::tm t = clock();
    char buf[1024];
    const size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &t);
    return Value::string(std::string(buf, n));
  });
}

}  // namespace omni::llm::jinja
