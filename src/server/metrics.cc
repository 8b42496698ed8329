#include "server/metrics.h"

#include <cstdio>

namespace omni::server {

void Metrics::record_request(const std::string& endpoint, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{endpoint, status}];
  if (status >= 400) ++errors_;
  Histogram& h = latency_[endpoint];
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  if (b < kBuckets.size()) ++h.counts[b];
  ++h.count;
  h.sum += seconds;
}

namespace {

template <class H, class B>
void observe(H& h, const B& buckets, double seconds) {
  size_t b = 0;
  while (b < buckets.size() && seconds > buckets[b]) ++b;
  if (b < buckets.size()) ++h.counts[b];
  ++h.count;
  h.sum += seconds;
}

}  // namespace

void Metrics::record_stage(const std::string& stage, double seconds) {
  std::lock_guard lock(mu_);
  observe(stages_[stage], kBuckets, seconds);
}

void Metrics::add_tokens(int64_t prompt, int64_t generated) {
  prompt_tokens_.fetch_add(prompt);
  generated_tokens_.fetch_add(generated);
}

std::string Metrics::render() const {
  std::string out;
  char buf[256];
  auto line = [&](const char* fmt, auto... args) {
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
  };
  std::lock_guard lock(mu_);
  out += "# HELP omni_requests_total HTTP requests by endpoint and status.\n";
  out += "# TYPE omni_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    line("omni_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n", key.first.c_str(), key.second,
         static_cast<unsigned long long>(n));
  }
  out += "# HELP omni_request_errors_total Requests answered with status >= 400.\n";
  out += "# TYPE omni_request_errors_total counter\n";
  line("omni_request_errors_total %llu\n", static_cast<unsigned long long>(errors_));
  out += "# HELP omni_requests_cancelled_total Generations stopped because the client left.\n";
  out += "# TYPE omni_requests_cancelled_total counter\n";
  line("omni_requests_cancelled_total %lld\n", static_cast<long long>(cancelled_.load()));
  out += "# HELP omni_prompt_tokens_total Prompt tokens processed.\n";
  out += "# TYPE omni_prompt_tokens_total counter\n";
  line("omni_prompt_tokens_total %lld\n", static_cast<long long>(prompt_tokens_.load()));
  out += "# HELP omni_generated_tokens_total Tokens generated.\n";
  out += "# TYPE omni_generated_tokens_total counter\n";
  line("omni_generated_tokens_total %lld\n", static_cast<long long>(generated_tokens_.load()));
  out += "# HELP omni_queue_depth Requests waiting for a model slot.\n";
  out += "# TYPE omni_queue_depth gauge\n";
  line("omni_queue_depth %lld\n", static_cast<long long>(queue_depth_.load()));
  out += "# HELP omni_busy_slots Model slots running a request.\n";
  out += "# TYPE omni_busy_slots gauge\n";
  line("omni_busy_slots %lld\n", static_cast<long long>(busy_slots_.load()));
  out += "# HELP omni_request_duration_seconds Request latency by endpoint.\n";
  out += "# TYPE omni_request_duration_seconds histogram\n";
  for (const auto& [ep, h] : latency_) {
    uint64_t cum = 0;
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      cum += h.counts[b];
      line("omni_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n", ep.c_str(),
           kBuckets[b], static_cast<unsigned long long>(cum));
    }
    line("omni_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n", ep.c_str(),
         static_cast<unsigned long long>(h.count));
    line("omni_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ep.c_str(), h.sum);
    line("omni_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", ep.c_str(),
         static_cast<unsigned long long>(h.count));
  }
  out += "# HELP omni_stage_duration_seconds Time one request spent in a pipeline stage.\n";
  out += "# TYPE omni_stage_duration_seconds histogram\n";
  for (const auto& [st, h] : stages_) {
    uint64_t cum = 0;
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      cum += h.counts[b];
      line("omni_stage_duration_seconds_bucket{stage=\"%s\",le=\"%g\"} %llu\n", st.c_str(),
           kBuckets[b], static_cast<unsigned long long>(cum));
    }
    line("omni_stage_duration_seconds_bucket{stage=\"%s\",le=\"+Inf\"} %llu\n", st.c_str(),
         static_cast<unsigned long long>(h.count));
    line("omni_stage_duration_seconds_sum{stage=\"%s\"} %.6f\n", st.c_str(), h.sum);
    line("omni_stage_duration_seconds_count{stage=\"%s\"} %llu\n", st.c_str(),
         static_cast<unsigned long long>(h.count));
  }
  return out;
}

}  // namespace omni::server
