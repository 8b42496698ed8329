// Server-sent events (the WHATWG event-stream format) as OpenAI-compatible servers stream them:
//   data: {"choices":[...]}\n\n ... data: [DONE]\n\n
// Bytes arrive in arbitrary pieces; feed() buffers partial lines and calls back once per
// complete event (at its blank line). Multi-line `data:` fields are joined with '\n'; comments
// (`:` lines), `id:` and `retry:` are ignored; CR, LF and CRLF all end lines.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace omni::http {

struct SseEvent {
  std::string event;  // `event:` field; empty means "message"
  std::string data;
  bool done() const { return data == "[DONE]"; }  // OpenAI's end-of-stream marker
};

class SseParser {
 public:
  using OnEvent = std::function<void(const SseEvent&)>;
  // A line or event longer than this is a hostile or broken stream: FormatError.
  explicit SseParser(size_t max_event_bytes = 8 << 20) : max_(max_event_bytes) {}

  // Parses `bytes`, calling on_event for each event completed by them. Throws
  // omni::FormatError when an event grows past the limit.
  void feed(std::string_view bytes, const OnEvent& on_event);
  // End of stream: an event that was not terminated by a blank line is dispatched too (some
  // servers close right after the last `data:` line).
  void finish(const OnEvent& on_event);

 private:
  void line(std::string_view l, const OnEvent& on_event);
  void dispatch(const OnEvent& on_event);
  size_t max_;
  std::string partial_;  // an unfinished line
  bool after_cr_ = false;  // the last byte was CR: a following LF belongs to it
  SseEvent current_;
  bool has_data_ = false;
};

}  // namespace omni::http
