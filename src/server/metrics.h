// Prometheus text-format counters for the server: requests by endpoint and status, errors,
// prompt/generated tokens, queue depth and a request latency histogram. Thread-safe.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace omni::server {

class Metrics {
 public:
  // `endpoint` must come from a fixed set (the server maps unknown paths to "other"), so the
  // label set stays bounded whatever clients send.
  void record_request(const std::string& endpoint, int status, double seconds);
  void add_tokens(int64_t prompt, int64_t generated);
  // Time spent in one pipeline stage ("asr", "llm", "tts", "ocr": a fixed set) by one request.
  void record_stage(const std::string& stage, double seconds);
  void add_cancelled() { cancelled_.fetch_add(1); }
  void set_queue_depth(int64_t depth) { queue_depth_.store(depth); }
  void set_busy_slots(int64_t busy) { busy_slots_.store(busy); }
  int64_t cancelled() const { return cancelled_.load(); }
  // The whole exposition text (`text/plain; version=0.0.4`).
  std::string render() const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10,  30};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};  // per bucket (not cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, Histogram> stages_;
  uint64_t errors_ = 0;
  std::atomic<int64_t> prompt_tokens_{0}, generated_tokens_{0}, cancelled_{0};
  std::atomic<int64_t> queue_depth_{0}, busy_slots_{0};
};

}  // namespace omni::server
