// Jinja2's filters and tests, and the Python methods of str / list / dict, as chat templates use
// them. Semantics follow Jinja2 3.x and CPython; where they differ from HF transformers (tojson)
// transformers wins, since that is what the templates were written against.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>

#include "llm/jinja/error.h"
#include "llm/jinja/interpreter.h"

namespace omni::llm::jinja {

namespace {

const Value* arg(const CallArgs& a, size_t pos, const char* name) {
  for (const auto& [k, v] : a.keyword) {
    if (k == name) return &v;
  }
  if (pos < a.positional.size()) return &a.positional[pos];
  return nullptr;
}

std::string arg_string(const CallArgs& a, size_t pos, const char* name, const char* what) {
  const Value* v = arg(a, pos, name);
  if (!v || !v->is_string()) throw EvalError(std::string(what) + ": '" + name + "' must be a string");
  return v->as_string();
}

int64_t arg_int(const CallArgs& a, size_t pos, const char* name, int64_t dflt) {
  const Value* v = arg(a, pos, name);
  if (!v || v->is_none() || v->is_undefined()) return dflt;
  if (v->is_bool()) return v->as_bool();
  if (!v->is_int()) throw EvalError(std::string("'") + name + "' must be an integer");
  return v->as_int();
}

bool arg_bool(const CallArgs& a, size_t pos, const char* name, bool dflt) {
  const Value* v = arg(a, pos, name);
  return v ? v->truthy() : dflt;
}

std::string ascii_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string ascii_upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const std::string& need_string(const Value& v, const std::string& what) {
  if (!v.is_string()) {
    if (v.is_undefined()) {
      throw EvalError(v.name().empty() ? what + ": value is undefined"
                                       : what + ": '" + v.name() + "' is undefined");
    }
    throw EvalError(what + " expects a string, got " + v.type_name());
  }
  return v.as_string();
}

bool is_py_space(std::string_view c) {
  return c.size() == 1 && (c[0] == ' ' || c[0] == '\t' || c[0] == '\n' || c[0] == '\r' ||
                           c[0] == '\f' || c[0] == '\v');
}

// str.strip / lstrip / rstrip: chars given -> strip those code points, else whitespace.
std::string strip(const std::string& s, const Value* chars, bool left, bool right) {
  const auto cs = utf8_chars(s);
  std::unordered_set<std::string_view> set;
  std::vector<std::string_view> char_list;
  const bool custom = chars && chars->is_string();
  if (custom) {
    for (auto c : utf8_chars(chars->as_string())) set.insert(c);
  }
  auto strippable = [&](std::string_view c) { return custom ? set.count(c) != 0 : is_py_space(c); };
  size_t b = 0, e = cs.size();
  if (left) {
    while (b < e && strippable(cs[b])) ++b;
  }
  if (right) {
    while (e > b && strippable(cs[e - 1])) --e;
  }
  std::string out;
  for (size_t i = b; i < e; ++i) out += cs[i];
  return out;
}

ValueList split(Interpreter& in, const std::string& s, const Value* sep, int64_t maxsplit) {
  ValueList out;
  if (!sep || sep->is_none()) {  // runs of whitespace, no empty strings
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        size_t e = s.size();
        while (e > i && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
        out.push_back(Value::string(s.substr(i, e - i)));
        break;
      }
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      out.push_back(Value::string(s.substr(i, j - i)));
      i = j;
    }
    in.check_items(out.size());
    return out;
  }
  const std::string& d = need_string(*sep, "split");
  if (d.empty()) throw EvalError("split: empty separator");
  size_t i = 0;
  while (true) {
    const size_t j = s.find(d, i);
    if (j == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit)) {
      out.push_back(Value::string(s.substr(i)));
      break;
    }
    out.push_back(Value::string(s.substr(i, j - i)));
    in.check_items(out.size());
    i = j + d.size();
  }
  return out;
}

std::string replace(Interpreter& in, const std::string& s, const std::string& from,
                    const std::string& to, int64_t count) {
  std::string out;
  size_t i = 0;
  int64_t done = 0;
  if (from.empty()) {  // Python inserts `to` around every character
    const auto cs = utf8_chars(s);
    for (size_t k = 0; k <= cs.size(); ++k) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (k < cs.size()) out += cs[k];
      in.check_string(out.size());
    }
    return out;
  }
  while (true) {
    const size_t j = s.find(from, i);
    if (j == std::string::npos || (count >= 0 && done >= count)) break;
    out.append(s, i, j - i);
    out += to;
    in.check_string(out.size());
    i = j + from.size();
    ++done;
  }
  out.append(s, i, std::string::npos);
  in.check_string(out.size());
  return out;
}

bool starts_or_ends(const std::string& s, const Value& what, bool starts) {
  auto one = [&](const Value& p) {
    const std::string& x = need_string(p, starts ? "startswith" : "endswith");
    if (x.size() > s.size()) return false;
    return starts ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (what.is_list()) {
    for (const auto& p : what.as_list()) {
      if (one(p)) return true;
    }
    return false;
  }
  return one(what);
}

// Python str.title(): a letter after a non-letter starts a word.
std::string py_title(const std::string& s) {
  std::string out = s;
  bool prev_letter = false;
  for (auto& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    const bool letter = std::isalpha(u) != 0;
    if (letter) c = static_cast<char>(prev_letter ? std::tolower(u) : std::toupper(u));
    prev_letter = letter || (u >= 0x80);
  }
  return out;
}

// Jinja2's title filter: words start after whitespace and - ( { [ <.
std::string jinja_title(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (auto& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isspace(u) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<') {
      start = true;
      continue;
    }
    c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
    start = false;
  }
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out = ascii_lower(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// Dotted attribute path ("function.name") as Jinja's attribute= arguments allow.
Value attr_path(const Value& v, const std::string& path) {
  Value cur = v;
  size_t i = 0;
  while (true) {
    const size_t j = path.find('.', i);
    const std::string part = path.substr(i, j == std::string::npos ? std::string::npos : j - i);
    bool digits = !part.empty();
    for (char c : part) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    cur = digits && cur.is_list() ? get_item(cur, Value::integer(std::stoll(part)))
                                  : get_attr(cur, part);
    if (j == std::string::npos) return cur;
    i = j + 1;
  }
}

CallArgs rest_args(const CallArgs& a, size_t from) {
  CallArgs r;
  for (size_t i = from; i < a.positional.size(); ++i) r.positional.push_back(a.positional[i]);
  r.keyword = a.keyword;
  return r;
}

// select / reject / selectattr / rejectattr.
Value select(Interpreter& in, const Value& seq, CallArgs& args, bool by_attr, bool keep) {
  ValueList out;
  std::string attr;
  size_t next = 0;
  if (by_attr) {
    if (args.positional.empty() || !args.positional[0].is_string()) {
      throw EvalError("selectattr/rejectattr need an attribute name");
    }
    attr = args.positional[0].as_string();
    next = 1;
  }
  std::string test;
  if (next < args.positional.size()) {
    test = need_string(args.positional[next], "select test name");
    ++next;
  }
  CallArgs test_args = rest_args(args, next);
  test_args.keyword.clear();
  for (const auto& item : iterate(seq)) {
    in.step();
    const Value v = by_attr ? attr_path(item, attr) : item;
    const bool pass = test.empty() ? v.truthy() : in.apply_test(test, v, test_args);
    if (pass == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Value to_int(const Value& v, const Value& dflt) {
  if (v.is_int()) return v;
  if (v.is_bool()) return Value::integer(v.as_bool());
  if (v.is_float()) {
    const double f = v.as_double();
    if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(f));
  }
  if (v.is_string()) {
    std::string s = strip(v.as_string(), nullptr, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (s.empty()) return dflt;
    char* end = nullptr;
    errno = 0;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (end && *end == '\0' && errno == 0) return Value::integer(i);
    const double f = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(f) && std::fabs(f) < 9.2e18) {
      return Value::integer(static_cast<int64_t>(f));
    }
  }
  return dflt;
}

Value to_float(const Value& v, const Value& dflt) {
  if (v.is_number() || v.is_bool()) {
    return Value::number(v.is_bool() ? (v.as_bool() ? 1.0 : 0.0) : v.as_double());
  }
  if (v.is_string()) {
    const std::string s = strip(v.as_string(), nullptr, true, true);
    char* end = nullptr;
    const double f = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value::number(f);
  }
  return dflt;
}

// Sort key: strings fold case unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (v.is_string() && !case_sensitive) return Value::string(ascii_lower(v.as_string()));
  return v;
}

}  // namespace

ValueList iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::kList: return v.as_list();
    case Value::Type::kDict: {
      ValueList keys;
      for (const auto& [k, x] : v.as_dict().items()) keys.push_back(Value::string(k));
      return keys;
    }
    case Value::Type::kString: {
      ValueList chars;
      for (auto c : utf8_chars(v.as_string())) chars.push_back(Value::string(std::string(c)));
      return chars;
    }
    case Value::Type::kUndefined: return {};
    default: throw EvalError(v.type_name() + " object is not iterable");
  }
}

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(name)) return *v;
  }
  return Value::undefined(name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_dict()) {
    if (key.is_string()) {
      if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
      return Value::undefined(key.as_string());
    }
    return Value::undefined();
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.is_bool() ? key.as_bool() : key.as_int();
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.as_list().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined();
      return obj.as_list()[static_cast<size_t>(i)];
    }
    const auto cs = utf8_chars(obj.as_string());
    const auto n = static_cast<int64_t>(cs.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined();
    return Value::string(std::string(cs[static_cast<size_t>(i)]));
  }
  if (key.is_string()) return Value::undefined(key.as_string());
  return Value::undefined();
}

Value builtin_filter(Interpreter& in, const std::string& name, const Value& v, CallArgs& args) {
  if (name == "trim") return Value::string(strip(v.to_str(), arg(args, 0, "chars"), true, true));
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value::integer(static_cast<int64_t>(utf8_length(v.as_string())));
    if (v.is_list()) return Value::integer(static_cast<int64_t>(v.as_list().size()));
    if (v.is_dict()) return Value::integer(static_cast<int64_t>(v.as_dict().size()));
    if (v.is_undefined()) return Value::integer(0);
    throw EvalError("object of type " + v.type_name() + " has no length");
  }
  if (name == "upper") return Value::string(ascii_upper(v.to_str()));
  if (name == "lower") return Value::string(ascii_lower(v.to_str()));
  if (name == "capitalize") return Value::string(capitalize(v.to_str()));
  if (name == "title") return Value::string(jinja_title(v.to_str()));
  if (name == "tojson") {
    const Value* ind = arg(args, 0, "indent");
    int indent = -1;
    if (ind && ind->is_int()) indent = static_cast<int>(std::clamp<int64_t>(ind->as_int(), 0, 64));
    std::string s = v.to_json(indent, arg_bool(args, 99, "sort_keys", false));
    in.check_string(s.size());
    return Value::string(std::move(s));
  }
  if (name == "string") return v.is_string() ? v : Value::string(v.to_str());
  if ((name == "int" || name == "float") && v.is_undefined()) {
    throw EvalError(v.name().empty() ? "value is undefined" : "'" + v.name() + "' is undefined");
  }
  if (name == "int") {
    const Value* d = arg(args, 0, "default");
    return to_int(v, d ? *d : Value::integer(0));
  }
  if (name == "float") {
    const Value* d = arg(args, 0, "default");
    return to_float(v, d ? *d : Value::number(0.0));
  }
  if (name == "join") {
    const Value* sep = arg(args, 0, "d");
    const std::string d = sep ? sep->to_str() : "";
    const Value* attr = arg(args, 1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& item : iterate(v)) {
      if (!first) out += d;
      first = false;
      out += (attr && attr->is_string() ? attr_path(item, attr->as_string()) : item).to_str();
      in.check_string(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "first" || name == "last") {
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "default" || name == "d") {
    const bool boolean = arg_bool(args, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) {
      const Value* d = arg(args, 0, "default_value");
      return d ? *d : Value::string("");
    }
    return v;
  }
  if (name == "replace") {
    const Value* count = arg(args, 2, "count");
    return Value::string(replace(in, v.to_str(), arg_string(args, 0, "old", "replace"),
                                 arg_string(args, 1, "new", "replace"),
                                 count && count->is_int() ? count->as_int() : -1));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::list();
    if (!v.is_dict()) throw EvalError("items filter expects a dict, got " + v.type_name());
    ValueList out;
    for (const auto& [k, x] : v.as_dict().items()) out.push_back(Value::list({Value::string(k), x}));
    return Value::list(std::move(out));
  }
  if (name == "list") return Value::list(iterate(v));
  if (name == "map") {
    ValueList out;
    const Value* attr = arg(args, 99, "attribute");
    if (attr) {
      const Value* dflt = arg(args, 99, "default");
      for (const auto& item : iterate(v)) {
        in.step();
        Value x = attr_path(item, attr->to_str());
        out.push_back(x.is_undefined() && dflt ? *dflt : x);
      }
      return Value::list(std::move(out));
    }
    if (args.positional.empty()) throw EvalError("map needs a filter name or attribute=");
    const std::string f = need_string(args.positional[0], "map filter name");
    CallArgs fargs = rest_args(args, 1);
    for (const auto& item : iterate(v)) {
      in.step();
      out.push_back(in.apply_filter(f, item, fargs));
    }
    return Value::list(std::move(out));
  }
  if (name == "selectattr") return select(in, v, args, true, true);
  if (name == "rejectattr") return select(in, v, args, true, false);
  if (name == "select") return select(in, v, args, false, true);
  if (name == "reject") return select(in, v, args, false, false);
  if (name == "safe") return v;
  if (name == "escape" || name == "e" || name == "forceescape") {
    return Value::string(html_escape(v.to_str()));
  }
  if (name == "round") {
    if (!v.is_number() && !v.is_bool()) throw EvalError("round expects a number");
    const int64_t precision = std::clamp<int64_t>(arg_int(args, 0, "precision", 0), -300, 300);
    const Value* method = arg(args, 1, "method");
    const std::string m = method && method->is_string() ? method->as_string() : "common";
    if (m != "common" && m != "ceil" && m != "floor") {
      throw EvalError("round: method must be common, ceil or floor");
    }
    // Python's round(int, n >= 0) is the int itself; floats stay floats.
    if (!v.is_float() && precision >= 0) return Value::integer(v.is_bool() ? v.as_bool() : v.as_int());
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double x = (v.is_bool() ? (v.as_bool() ? 1.0 : 0.0) : v.as_double()) * scale;
    const double r = m == "common" ? std::nearbyint(x) : m == "ceil" ? std::ceil(x) : std::floor(x);
    if (!v.is_float()) {
      const double back = r / scale;
      if (!(std::fabs(back) < 9.2e18)) throw EvalError("integer overflow");
      return Value::integer(static_cast<int64_t>(back));
    }
    return Value::number(r / scale);
  }
  if (name == "abs") {
    if (v.is_float()) return Value::number(std::fabs(v.as_double()));
    if (v.is_int() || v.is_bool()) {
      const int64_t i = v.is_bool() ? v.as_bool() : v.as_int();
      if (i == INT64_MIN) throw EvalError("integer overflow");
      return Value::integer(i < 0 ? -i : i);
    }
    throw EvalError("abs expects a number, got " + v.type_name());
  }
  if (name == "unique") {
    const bool cs = arg_bool(args, 0, "case_sensitive", false);
    const Value* attr = arg(args, 1, "attribute");
    ValueList out, keys;
    for (const auto& item : iterate(v)) {
      in.step();
      Value key = sort_key(attr && attr->is_string() ? attr_path(item, attr->as_string()) : item, cs);
      bool seen = false;
      for (const auto& k : keys) {
        in.step();
        seen = seen || values_equal(k, key);
      }
      if (!seen) {
        keys.push_back(std::move(key));
        out.push_back(item);
      }
    }
    return Value::list(std::move(out));
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto cs = utf8_chars(v.as_string());
      std::string out;
      for (size_t i = cs.size(); i-- > 0;) out += cs[i];
      return Value::string(std::move(out));
    }
    ValueList items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "sort") {
    const bool reverse = arg_bool(args, 0, "reverse", false);
    const bool cs = arg_bool(args, 1, "case_sensitive", false);
    const Value* attr = arg(args, 2, "attribute");
    ValueList items = iterate(v);
    std::vector<std::pair<Value, size_t>> keyed;
    for (size_t i = 0; i < items.size(); ++i) {
      keyed.emplace_back(
          sort_key(attr && attr->is_string() ? attr_path(items[i], attr->as_string()) : items[i], cs),
          i);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      in.step();
      return reverse ? value_less(b.first, a.first) : value_less(a.first, b.first);
    });
    ValueList out;
    for (const auto& [k, i] : keyed) out.push_back(items[i]);
    return Value::list(std::move(out));
  }
  if (name == "indent") {
    const std::string s = v.to_str();
    const Value* w = arg(args, 0, "width");
    std::string pad = w && w->is_string() ? w->as_string()
                                          : std::string(static_cast<size_t>(std::clamp<int64_t>(
                                                            arg_int(args, 0, "width", 4), 0, 256)),
                                                        ' ');
    const bool first = arg_bool(args, 1, "first", false);
    const bool blank = arg_bool(args, 2, "blank", false);
    std::vector<std::string> lines;
    size_t i = 0;
    while (i < s.size()) {
      const size_t j = s.find('\n', i);
      lines.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
      if (j == std::string::npos) break;
      i = j + 1;
    }
    std::string out;
    for (size_t k = 0; k < lines.size(); ++k) {
      if (k > 0) out += '\n';
      if ((k > 0 || first) && (blank || !lines[k].empty())) out += pad;
      out += lines[k];
      in.check_string(out.size());
    }
    return Value::string(std::move(out));
  }
  if (name == "sum") {
    const Value* attr = arg(args, 0, "attribute");
    const Value* start = arg(args, 1, "start");
    int64_t si = 0;
    double sf = 0;
    bool is_float = start && start->is_float();
    if (start && start->is_float()) sf = start->as_double();
    if (start && start->is_int()) si = start->as_int();
    for (const auto& item : iterate(v)) {
      const Value x = attr && attr->is_string() ? attr_path(item, attr->as_string()) : item;
      if (x.is_float()) {
        if (!is_float) sf = static_cast<double>(si);
        is_float = true;
        sf += x.as_double();
      } else if (x.is_int() || x.is_bool()) {
        const int64_t k = x.is_bool() ? x.as_bool() : x.as_int();
        if (is_float) {
          sf += static_cast<double>(k);
        } else if (__builtin_add_overflow(si, k, &si)) {
          throw EvalError("integer overflow");
        }
      } else {
        throw EvalError("sum: unsupported item type " + x.type_name());
      }
    }
    return is_float ? Value::number(sf) : Value::integer(si);
  }
  if (name == "min" || name == "max") {
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined();
    Value best = items[0];
    for (const auto& x : items) {
      if (name == "min" ? value_less(x, best) : value_less(best, x)) best = x;
    }
    return best;
  }
  if (name == "attr") return get_attr(v, arg_string(args, 0, "name", "attr"));
  if (name == "wordcount") {
    return Value::integer(static_cast<int64_t>(split(in, v.to_str(), nullptr, -1).size()));
  }
  throw EvalError("unknown filter '" + name + "'");
}

bool builtin_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& args) {
  (void)in;
  auto other = [&]() -> const Value& {
    if (args.positional.empty()) throw EvalError("test '" + name + "' needs an argument");
    return args.positional[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number() || v.is_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "callable") return v.is_function();
  if (name == "equalto" || name == "eq" || name == "==") return values_equal(v, other());
  if (name == "ne" || name == "!=") return !values_equal(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return value_less(v, other());
  if (name == "gt" || name == "greaterthan" || name == ">") return value_less(other(), v);
  if (name == "le" || name == "<=") return !value_less(other(), v);
  if (name == "ge" || name == ">=") return !value_less(v, other());
  if (name == "in") {
    CallArgs none;
    const Value& seq = other();
    if (seq.is_string() && v.is_string()) return seq.as_string().find(v.as_string()) != std::string::npos;
    for (const auto& x : iterate(seq)) {
      if (values_equal(x, v)) return true;
    }
    return false;
  }
  if (name == "sameas") {
    const Value& o = other();
    if (v.type() != o.type()) return false;
    if (v.is_list() || v.is_dict() || v.is_function()) return v.identity() == o.identity();
    return values_equal(v, o);
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.is_float() && name != "divisibleby") {
      double r = std::fmod(v.as_double(), 2.0);
      if (r < 0) r += 2.0;
      return name == "odd" ? r == 1.0 : r == 0.0;
    }
    if (!v.is_int() && !v.is_bool()) throw EvalError("test '" + name + "' expects a number");
    const int64_t i = v.is_bool() ? v.as_bool() : v.as_int();
    if (name == "odd") return i % 2 != 0;
    if (name == "even") return i % 2 == 0;
    const Value& d = other();
    if (!d.is_int() || d.as_int() == 0) throw EvalError("divisibleby needs a non-zero integer");
    if (d.as_int() == -1) return true;
    return i % d.as_int() == 0;
  }
  if (name == "lower") return v.is_string() && ascii_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && ascii_upper(v.as_string()) == v.as_string();
  if (name == "escaped") return false;
  throw EvalError("unknown test '" + name + "'");
}

Value builtin_method(Interpreter& in, const Value& obj, const std::string& name, CallArgs& args) {
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    if (name == "strip") return Value::string(strip(s, arg(args, 0, "chars"), true, true));
    if (name == "lstrip") return Value::string(strip(s, arg(args, 0, "chars"), true, false));
    if (name == "rstrip") return Value::string(strip(s, arg(args, 0, "chars"), false, true));
    if (name == "split") {
      return Value::list(split(in, s, arg(args, 0, "sep"), arg_int(args, 1, "maxsplit", -1)));
    }
    if (name == "startswith" || name == "endswith") {
      const Value* p = arg(args, 0, "prefix");
      if (!p) throw EvalError(name + " needs an argument");
      return Value::boolean(starts_or_ends(s, *p, name == "startswith"));
    }
    if (name == "upper") return Value::string(ascii_upper(s));
    if (name == "lower") return Value::string(ascii_lower(s));
    if (name == "title") return Value::string(py_title(s));
    if (name == "capitalize") return Value::string(capitalize(s));
    if (name == "replace") {
      return Value::string(replace(in, s, arg_string(args, 0, "old", "replace"),
                                   arg_string(args, 1, "new", "replace"),
                                   arg_int(args, 2, "count", -1)));
    }
    if (name == "find" || name == "rfind" || name == "count" || name == "index") {
      const std::string sub = arg_string(args, 0, "sub", name.c_str());
      if (name == "count") {
        if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s)) + 1);
        int64_t n = 0;
        for (size_t i = s.find(sub); i != std::string::npos; i = s.find(sub, i + sub.size())) ++n;
        return Value::integer(n);
      }
      const size_t at = name == "rfind" ? s.rfind(sub) : s.find(sub);
      if (at == std::string::npos) {
        if (name == "index") throw EvalError("substring not found");
        return Value::integer(-1);
      }
      return Value::integer(static_cast<int64_t>(utf8_length(s.substr(0, at))));
    }
    if (name == "join") {
      std::string out;
      bool first = true;
      for (const auto& x : iterate(arg(args, 0, "iterable") ? *arg(args, 0, "iterable") : Value())) {
        if (!first) out += s;
        first = false;
        out += need_string(x, "str.join item");
        in.check_string(out.size());
      }
      return Value::string(std::move(out));
    }
    if (name == "splitlines") {
      ValueList out;
      size_t i = 0;
      while (i < s.size()) {
        const size_t j = s.find('\n', i);
        out.push_back(Value::string(s.substr(i, j == std::string::npos ? std::string::npos : j - i)));
        if (j == std::string::npos) break;
        i = j + 1;
      }
      return Value::list(std::move(out));
    }
    auto all = [&](int (*pred)(int)) {
      if (s.empty()) return Value::boolean(false);
      for (unsigned char c : s) {
        if (!pred(c)) return Value::boolean(false);
      }
      return Value::boolean(true);
    };
    if (name == "isdigit") return all([](int c) { return std::isdigit(c); });
    if (name == "isalpha") return all([](int c) { return std::isalpha(c); });
    if (name == "isalnum") return all([](int c) { return std::isalnum(c); });
    if (name == "isspace") return all([](int c) { return std::isspace(c); });
    if (name == "islower") return Value::boolean(ascii_lower(s) == s && ascii_upper(s) != s);
    if (name == "isupper") return Value::boolean(ascii_upper(s) == s && ascii_lower(s) != s);
  } else if (obj.is_dict()) {
    ValueDict& d = obj.as_dict();
    if (name == "items" || name == "keys" || name == "values") {
      ValueList out;
      for (const auto& [k, x] : d.items()) {
        if (name == "items") {
          out.push_back(Value::list({Value::string(k), x}));
        } else {
          out.push_back(name == "keys" ? Value::string(k) : x);
        }
      }
      return Value::list(std::move(out));
    }
    if (name == "get") {
      const Value* key = arg(args, 0, "key");
      if (!key) throw EvalError("dict.get needs a key");
      if (key->is_string()) {
        if (const Value* x = d.find(key->as_string())) return *x;
      }
      const Value* dflt = arg(args, 1, "default");
      return dflt ? *dflt : Value::none();
    }
    if (name == "update") {
      const Value* other = arg(args, 0, "other");
      if (other && other->is_dict()) {
        for (const auto& [k, x] : other->as_dict().items()) {
          check_insert(obj, x);
          d.set(k, x);
        }
      }
      for (const auto& [k, x] : args.keyword) {
        check_insert(obj, x);
        d.set(k, x);
      }
      return Value::none();
    }
  } else if (obj.is_list()) {
    ValueList& l = obj.as_list();
    if (name == "append") {
      if (args.positional.size() != 1) throw EvalError("list.append takes one argument");
      check_insert(obj, args.positional[0]);
      in.check_items(l.size() + 1);
      l.push_back(args.positional[0]);
      return Value::none();
    }
    if (name == "extend") {
      if (args.positional.size() != 1) throw EvalError("list.extend takes one argument");
      ValueList items = iterate(args.positional[0]);
      for (const auto& x : items) check_insert(obj, x);
      in.check_items(l.size() + items.size());
      l.insert(l.end(), items.begin(), items.end());
      return Value::none();
    }
    if (name == "insert") {
      if (args.positional.size() != 2) throw EvalError("list.insert takes two arguments");
      check_insert(obj, args.positional[1]);
      in.check_items(l.size() + 1);
      int64_t i = arg_int(args, 0, "index", 0);
      const auto n = static_cast<int64_t>(l.size());
      if (i < 0) i = std::max<int64_t>(0, i + n);
      i = std::min(i, n);
      l.insert(l.begin() + i, args.positional[1]);
      return Value::none();
    }
    if (name == "pop") {
      if (l.empty()) throw EvalError("pop from empty list");
      int64_t i = arg_int(args, 0, "index", -1);
      const auto n = static_cast<int64_t>(l.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) throw EvalError("pop index out of range");
      Value x = l[static_cast<size_t>(i)];
      l.erase(l.begin() + i);
      return x;
    }
    if (name == "index" || name == "count") {
      if (args.positional.empty()) throw EvalError("list." + name + " needs an argument");
      int64_t count = 0;
      for (size_t i = 0; i < l.size(); ++i) {
        if (values_equal(l[i], args.positional[0])) {
          if (name == "index") return Value::integer(static_cast<int64_t>(i));
          ++count;
        }
      }
      if (name == "index") throw EvalError("value is not in list");
      return Value::integer(count);
    }
  } else if (obj.is_undefined()) {
    throw EvalError(obj.name().empty() ? "cannot call a method of an undefined value"
                                       : "'" + obj.name() + "' is undefined");
  }
  throw EvalError(obj.type_name() + " has no method '" + name + "'");
}

}  // namespace omni::llm::jinja
