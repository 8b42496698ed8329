// libFuzzer target for the SSE parser: any bytes, split anywhere, give the same events as fed
// whole, bounded by the input size; only omni::FormatError may escape (oversized events).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "pipeline/sse.h"

namespace {

std::vector<std::string> run(std::string_view in, size_t split) {
  omni::http::SseParser p(4096);
  std::vector<std::string> out;
  auto on = [&](const omni::http::SseEvent& e) { out.push_back(e.event + '\0' + e.data); };
  p.feed(in.substr(0, split), on);
  p.feed(in.substr(split), on);
  p.finish(on);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = in.empty() ? 0 : data[0] % (in.size() + 1);
  std::vector<std::string> whole, pieces;
  bool whole_failed = false, pieces_failed = false;
  try {
    whole = run(in, in.size());
  } catch (const omni::FormatError&) {
    whole_failed = true;
  }
  try {
    pieces = run(in, split);
  } catch (const omni::FormatError&) {
    pieces_failed = true;
  }
  if (whole_failed != pieces_failed) std::abort();
  if (!whole_failed && whole != pieces) std::abort();
  size_t total = 0;
  for (const auto& e : whole) total += e.size();
  if (total > 2 * in.size() + whole.size()) std::abort();
  return 0;
}
