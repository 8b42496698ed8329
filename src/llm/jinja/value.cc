#include "llm/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "llm/jinja/error.h"

namespace omni::llm::jinja {

namespace {

// Deeply nested lists would otherwise be destroyed recursively (one stack frame per level): the
// containers' children are parked here and released one at a time.
struct Graveyard {
  std::vector<Value> pending;
  bool active = false;
};
thread_local Graveyard graveyard;

void bury(std::vector<Value>&& items) {
  for (auto& v : items) {
    if (v.is_list() || v.is_dict()) graveyard.pending.push_back(std::move(v));
  }
  items.clear();
  if (graveyard.active) return;
  graveyard.active = true;
  while (!graveyard.pending.empty()) {
    Value v = std::move(graveyard.pending.back());
    graveyard.pending.pop_back();
  }
  graveyard.active = false;
}

void check_depth(int depth) {
  if (depth > kMaxNesting) throw EvalError("value nested too deeply");
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_repr_string(std::string& out, std::string_view s) {
  // Python picks single quotes unless the text has a single quote and no double quote.
  const bool dq = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
  const char q = dq ? '"' : '\'';
  out += q;
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += q;
}

void append_str(std::string& out, const Value& v, bool repr, int depth) {
  check_depth(depth);
  switch (v.type()) {
    case Value::Type::kUndefined: break;
    case Value::Type::kNone: out += "None"; break;
    case Value::Type::kBool: out += v.as_bool() ? "True" : "False"; break;
    case Value::Type::kInt: out += std::to_string(v.as_int()); break;
    case Value::Type::kFloat: out += format_float(v.as_double()); break;
    case Value::Type::kString:
      if (repr) {
        append_repr_string(out, v.as_string());
      } else {
        out += v.as_string();
      }
      break;
    case Value::Type::kList: {
      out += '[';
      bool first = true;
      for (const auto& x : v.as_list()) {
        if (!first) out += ", ";
        first = false;
        append_str(out, x, true, depth + 1);
      }
      out += ']';
      break;
    }
    case Value::Type::kDict: {
      if (v.as_dict().is_namespace) {
        out += "<Namespace>";
        break;
      }
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.as_dict().items()) {
        if (!first) out += ", ";
        first = false;
        append_repr_string(out, k);
        out += ": ";
        append_str(out, x, true, depth + 1);
      }
      out += '}';
      break;
    }
    case Value::Type::kFunction: out += "<function " + v.name() + ">"; break;
  }
}

void append_json(std::string& out, const Value& v, int indent, bool sort_keys, int depth) {
  check_depth(depth);
  auto newline = [&](int level) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(level), ' ');
  };
  // Python: separators (', ', ': ') without indent, (',', ': ') with it.
  const char* item_sep = indent < 0 ? ", " : ",";
  switch (v.type()) {
    case Value::Type::kUndefined:
      throw EvalError("tojson: an undefined value is not JSON serializable");
    case Value::Type::kNone: out += "null"; break;
    case Value::Type::kBool: out += v.as_bool() ? "true" : "false"; break;
    case Value::Type::kInt: out += std::to_string(v.as_int()); break;
    case Value::Type::kFloat: {
      const double f = v.as_double();
      if (std::isnan(f)) {
        out += "NaN";
      } else if (std::isinf(f)) {
        out += f > 0 ? "Infinity" : "-Infinity";
      } else {
        out += format_float(f);
      }
      break;
    }
    case Value::Type::kString: append_json_string(out, v.as_string()); break;
    case Value::Type::kList: {
      const auto& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        append_json(out, items[i], indent, sort_keys, depth + 1);
      }
      newline(depth);
      out += ']';
      break;
    }
    case Value::Type::kDict: {
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.as_dict().items()) items.push_back(&kv);
      if (sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](auto* a, auto* b) { return a->first < b->first; });
      }
      if (items.empty()) {
        out += "{}";
        break;
      }
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        append_json_string(out, items[i]->first);
        out += ": ";
        append_json(out, items[i]->second, indent, sort_keys, depth + 1);
      }
      newline(depth);
      out += '}';
      break;
    }
    case Value::Type::kFunction:
      throw EvalError("tojson: a function is not JSON serializable");
  }
}

Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  check_depth(depth);
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      ValueList items;
      for (const auto& x : j) items.push_back(from_json_at(x, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value d = Value::dict();
      for (const auto& [k, x] : j.items()) d.as_dict().set(k, from_json_at(x, depth + 1));
      return d;
    }
    default: return Value::none();
  }
}

nlohmann::ordered_json to_json_at(const Value& v, int depth) {
  check_depth(depth);
  switch (v.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone: return nullptr;
    case Value::Type::kBool: return v.as_bool();
    case Value::Type::kInt: return v.as_int();
    case Value::Type::kFloat: return v.as_double();
    case Value::Type::kString: return v.as_string();
    case Value::Type::kList: {
      auto a = nlohmann::ordered_json::array();
      for (const auto& x : v.as_list()) a.push_back(to_json_at(x, depth + 1));
      return a;
    }
    case Value::Type::kDict: {
      auto o = nlohmann::ordered_json::object();
      for (const auto& [k, x] : v.as_dict().items()) o[k] = to_json_at(x, depth + 1);
      return o;
    }
    case Value::Type::kFunction: break;
  }
  throw EvalError("a function is not JSON serializable");
}

bool equal_at(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    if (a.is_float() || b.is_float()) {
      const double x = a.is_bool() ? (a.as_bool() ? 1.0 : 0.0) : a.as_double();
      const double y = b.is_bool() ? (b.as_bool() ? 1.0 : 0.0) : b.as_double();
      return x == y;
    }
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    const int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x == y;
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::kUndefined:
    case Value::Type::kNone: return true;
    case Value::Type::kString: return a.as_string() == b.as_string();
    case Value::Type::kList: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equal_at(x[i], y[i], depth + 1)) return false;
      }
      return true;
    }
    case Value::Type::kDict: {
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.items()) {
        const Value* w = y.find(k);
        if (!w || !equal_at(v, *w, depth + 1)) return false;
      }
      return true;
    }
    case Value::Type::kFunction: return a.identity() == b.identity();
    default: return false;
  }
}

bool less_at(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    if (a.is_float() || b.is_float()) {
      const double x = a.is_bool() ? (a.as_bool() ? 1.0 : 0.0) : a.as_double();
      const double y = b.is_bool() ? (b.as_bool() ? 1.0 : 0.0) : b.as_double();
      return x < y;
    }
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    const int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x < y;
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equal_at(x[i], y[i], depth + 1)) return less_at(x[i], y[i], depth + 1);
    }
    return x.size() < y.size();
  }
  throw EvalError("'<' not supported between " + a.type_name() + " and " +
              b.type_name());
}

bool reaches(const Value& v, const void* target, std::unordered_set<const void*>& seen,
             int depth) {
  if (!v.is_list() && !v.is_dict()) return false;
  check_depth(depth);
  if (v.identity() == target) return true;
  if (!seen.insert(v.identity()).second) return false;
  if (v.is_list()) {
    for (const auto& x : v.as_list()) {
      if (reaches(x, target, seen, depth + 1)) return true;
    }
  } else {
    for (const auto& [k, x] : v.as_dict().items()) {
      if (reaches(x, target, seen, depth + 1)) return true;
    }
  }
  return false;
}

}  // namespace

ValueDict::~ValueDict() {
  std::vector<Value> values;
  values.reserve(items_.size());
  for (auto& kv : items_) values.push_back(std::move(kv.second));
  items_.clear();
  bury(std::move(values));
}

ListBox::~ListBox() { bury(std::move(items)); }

const Value* ValueDict::find(std::string_view key) const {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

Value* ValueDict::find(std::string_view key) {
  auto it = index_.find(std::string(key));
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

void ValueDict::set(const std::string& key, Value v) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    items_[it->second].second = std::move(v);
    return;
  }
  index_.emplace(key, items_.size());
  items_.emplace_back(key, std::move(v));
}

Value Value::undefined(std::string name) {
  Value v;
  v.s_ = std::move(name);
  return v;
}

Value Value::none() {
  Value v;
  v.type_ = Type::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.type_ = Type::kBool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.type_ = Type::kInt;
  v.i_ = i;
  return v;
}

Value Value::number(double f) {
  Value v;
  v.type_ = Type::kFloat;
  v.f_ = f;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.type_ = Type::kString;
  v.s_ = std::move(s);
  return v;
}

Value Value::list(ValueList items) {
  Value v;
  v.type_ = Type::kList;
  v.list_ = std::make_shared<ListBox>();
  v.list_->items = std::move(items);
  return v;
}

Value Value::dict() {
  Value v;
  v.type_ = Type::kDict;
  v.dict_ = std::make_shared<ValueDict>();
  return v;
}

Value Value::function(std::string name, Function fn) {
  Value v;
  v.type_ = Type::kFunction;
  v.s_ = std::move(name);
  v.fn_ = std::make_shared<const Function>(std::move(fn));
  return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

const void* Value::identity() const {
  if (list_) return list_.get();
  if (dict_) return dict_.get();
  if (fn_) return fn_.get();
  return nullptr;
}

bool Value::truthy() const {
  switch (type_) {
    case Type::kUndefined:
    case Type::kNone: return false;
    case Type::kBool: return b_;
    case Type::kInt: return i_ != 0;
    case Type::kFloat: return f_ != 0.0;
    case Type::kString: return !s_.empty();
    case Type::kList: return !list_->items.empty();
    case Type::kDict: return dict_->is_namespace || dict_->size() != 0;
    case Type::kFunction: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (type_) {
    case Type::kUndefined: return "undefined";
    case Type::kNone: return "none";
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kFloat: return "float";
    case Type::kString: return "string";
    case Type::kList: return "list";
    case Type::kDict: return dict_->is_namespace ? "namespace" : "dict";
    case Type::kFunction: return "function";
  }
  return "?";
}

std::string Value::to_str() const {
  std::string out;
  append_str(out, *this, false, 0);
  return out;
}

std::string Value::repr() const {
  std::string out;
  append_str(out, *this, true, 0);
  return out;
}

std::string Value::to_json(int indent, bool sort_keys) const {
  std::string out;
  append_json(out, *this, indent, sort_keys, 0);
  return out;
}

nlohmann::ordered_json Value::to_json_value() const { return to_json_at(*this, 0); }

bool values_equal(const Value& a, const Value& b) { return equal_at(a, b, 0); }

bool value_less(const Value& a, const Value& b) { return less_at(a, b, 0); }

std::string format_float(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  if (f == 0) return std::signbit(f) ? "-0.0" : "0.0";
  // Shortest round-trip digits, laid out the way Python's repr does: positional for
  // 1e-4 <= |f| < 1e16, else d.ddde+XX.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  const int exp = std::stoi(sci.substr(e + 1));
  bool neg = false;
  if (mant[0] == '-') {
    neg = true;
    mant.erase(0, 1);
  }
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0.";
      out.append(static_cast<size_t>(-exp - 1), '0');
      out += digits;
    } else {
      const size_t int_len = static_cast<size_t>(exp) + 1;
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
      } else {
        out += digits.substr(0, int_len);
        out += '.';
        out += digits.substr(int_len);
      }
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  out += ebuf;
  return out;
}

void check_insert(const Value& container, const Value& v) {
  if (!v.is_list() && !v.is_dict()) return;
  std::unordered_set<const void*> seen;
  if (reaches(v, container.identity(), seen, 1)) {
    throw EvalError("a list or dict cannot contain itself");
  }
}

namespace {
size_t utf8_next(std::string_view s, size_t i) {
  size_t j = i + 1;
  while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80 && j - i < 4) ++j;
  return j;
}
}  // namespace

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i = utf8_next(s, i)) ++n;
  return n;
}

std::vector<std::string_view> utf8_chars(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t j = utf8_next(s, i);
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace omni::llm::jinja
