#include "pipeline/sse.h"

#include "core/error.h"

namespace omni::http {

void SseParser::feed(std::string_view bytes, const OnEvent& on_event) {
  for (size_t i = 0; i < bytes.size();) {
    const char c = bytes[i];
    if (after_cr_ && c == '\n') {
      after_cr_ = false;
      ++i;
      continue;
    }
    after_cr_ = false;
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line(partial_, on_event);
      partial_.clear();
      ++i;
      continue;
    }
    // Copy up to the next line end in one go.
    size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = bytes.size();
    if (partial_.size() + (end - i) + current_.data.size() > max_) {
      throw FormatError("event stream: event longer than " + std::to_string(max_) + " bytes");
    }
    partial_.append(bytes.substr(i, end - i));
    i = end;
  }
}

void SseParser::finish(const OnEvent& on_event) {
  if (!partial_.empty()) {
    line(partial_, on_event);
    partial_.clear();
  }
  dispatch(on_event);
}

void SseParser::line(std::string_view l, const OnEvent& on_event) {
  if (l.empty()) {
    dispatch(on_event);
    return;
  }
  if (l.front() == ':') return;  // comment (keep-alive)
  std::string_view field = l, value;
  const size_t colon = l.find(':');
  if (colon != std::string_view::npos) {
    field = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data += '\n';
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  }
}

void SseParser::dispatch(const OnEvent& on_event) {
  // Per the spec, an event without data is not dispatched (it only resets the type).
  if (has_data_ && on_event) {
    const SseEvent e = std::move(current_);
    current_ = {};
    has_data_ = false;
    on_event(e);
    return;
  }
  current_ = {};
  has_data_ = false;
}

}  // namespace omni::http
