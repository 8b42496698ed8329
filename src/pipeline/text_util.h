// Small string helpers shared by the pipeline files.
#pragma once

#include <string>
#include <string_view>

namespace omni::pipeline {

// Without leading/trailing ASCII whitespace.
std::string trim(std::string_view s);

}  // namespace omni::pipeline
