// The dynamic value of the chat-template interpreter: Jinja's (that is, Python's) object model cut
// down to what chat templates use: undefined, none, bool, int, float, string, list, dict and
// callables (builtins, macros). Lists and dicts are shared by reference, as in Python, so
// `list.append` and `{% set ns.x = ... %}` are seen through every name bound to them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace omni::llm::jinja {

class Value;
class Interpreter;

using ValueList = std::vector<Value>;

// An insertion-ordered string-keyed map (Python dicts keep insertion order, and tojson output
// follows it).
class ValueDict {
 public:
  ~ValueDict();
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value v);
  size_t size() const;
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }

  // A namespace() object: the one kind of dict whose attributes `{% set ns.x = v %}` may assign.
  bool is_namespace = false;

 private:
  std::vector<std::pair<std::string, Value>> items_;
  std::unordered_map<std::string, size_t> index_;
};

// Arguments of a call: positional, then keyword (in source order).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

using Function = std::function<Value(Interpreter&, CallArgs&)>;

struct ListBox {
  ~ListBox();
  ValueList items;
};

class Value {
 public:
  enum class Type : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() = default;  // undefined
  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value list(ValueList items = {});
  static Value dict();
  static Value function(std::string name, Function fn);
  // JSON (from the API: messages, tools, extra variables) to a value; null becomes none.
  static Value from_json(const nlohmann::ordered_json& j);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::kUndefined; }
  bool is_none() const { return type_ == Type::kNone; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_float() const { return type_ == Type::kFloat; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kFloat; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_list() const { return type_ == Type::kList; }
  bool is_dict() const { return type_ == Type::kDict; }
  bool is_function() const { return type_ == Type::kFunction; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_double() const { return type_ == Type::kInt ? static_cast<double>(i_) : f_; }
  const std::string& as_string() const { return s_; }
  ValueList& as_list() const { return list_->items; }
  ValueDict& as_dict() const { return *dict_; }
  const Function& as_function() const { return *fn_; }
  // The variable name an undefined value came from, or a function's name (for messages).
  const std::string& name() const { return s_; }
  const void* identity() const;  // the shared container, for cycle checks

  bool truthy() const;
  std::string type_name() const;
  // Python str(): what `{{ v }}` prints. None -> "None", True -> "True", lists/dicts as repr.
  std::string to_str() const;
  // Python repr(): strings quoted.
  std::string repr() const;
  // HF transformers' tojson: json.dumps(v, ensure_ascii=False, indent=indent).
  std::string to_json(int indent = -1, bool sort_keys = false) const;
  nlohmann::ordered_json to_json_value() const;

 private:
  Type type_ = Type::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<ListBox> list_;
  std::shared_ptr<ValueDict> dict_;
  std::shared_ptr<const Function> fn_;
};

inline size_t ValueDict::size() const { return items_.size(); }

// Python ==, with 1 == 1.0 == True and deep comparison of lists and dicts.
bool values_equal(const Value& a, const Value& b);
// Python <, for numbers, strings and lists; throws omni::Error for other pairs.
bool value_less(const Value& a, const Value& b);
// Python float repr ("1.0", "0.1", "1e-05", "inf").
std::string format_float(double f);

// Guards: how deep values nest, and whether inserting `v` into `container` would make a cycle.
constexpr int kMaxNesting = 128;
void check_insert(const Value& container, const Value& v);

// UTF-8 aware helpers: Python strings index by code point.
size_t utf8_length(std::string_view s);
std::vector<std::string_view> utf8_chars(std::string_view s);

}  // namespace omni::llm::jinja
