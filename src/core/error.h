// Errors carry their context ("model.gguf: tensor blk.3.attn_q.weight: offset past end of file");
// the edges (CLI exit codes, HTTP status + JSON body) translate them once.
#pragma once

#include <stdexcept>
#include <string>

namespace omni {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad bytes from outside (a file, a request): the input is at fault, not the program.
class FormatError : public Error {
 public:
  using Error::Error;
};

}  // namespace omni
