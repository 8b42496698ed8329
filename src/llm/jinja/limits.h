// Resource limits of one render: hostile templates end with an omni::Error, never a hang or an
// exhausted memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace omni::llm::jinja {

struct Limits {
  size_t max_output = size_t{16} << 20;  // bytes of rendered text
  size_t max_string = size_t{16} << 20;  // bytes of any string value built by an operator
  size_t max_items = 1'000'000;          // elements of a list built by an operator
  uint64_t max_steps = 5'000'000;        // expression evaluations + loop iterations
  int max_call_depth = 64;               // nested macro calls
  int max_depth = 500;                   // nested statements + expressions, across macro calls
};

}  // namespace omni::llm::jinja
