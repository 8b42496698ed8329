#include "server/slots.h"

#include <algorithm>

namespace omni::server {

SlotLease::~SlotLease() { pool_->release(index_); }

llm::Context& SlotLease::context() { return *pool_->slots_[index_]; }

SlotPool::SlotPool(std::shared_ptr<const llm::Model> model, size_t n_slots, size_t max_queue,
                   llm::ContextOptions ctx_options, Metrics* metrics)
    : busy_(std::max<size_t>(n_slots, 1), false), max_queue_(max_queue), metrics_(metrics) {
  for (size_t i = 0; i < busy_.size(); ++i) {
    slots_.push_back(std::make_unique<llm::Context>(model, ctx_options));
  }
}

AcquireStatus SlotPool::acquire(std::span<const int32_t> prompt,
                                std::chrono::steady_clock::time_point deadline,
                                std::unique_ptr<SlotLease>& lease) {
  std::unique_lock lock(mu_);
  auto any_free = [&] { return std::find(busy_.begin(), busy_.end(), false) != busy_.end(); };
  if (shutdown_) return AcquireStatus::kShuttingDown;
  if (!any_free()) {
    if (waiting_ >= max_queue_) return AcquireStatus::kQueueFull;
    ++waiting_;
    if (metrics_) metrics_->set_queue_depth(static_cast<int64_t>(waiting_));
    const bool ok = cv_.wait_until(lock, deadline, [&] { return shutdown_ || any_free(); });
    --waiting_;
    if (metrics_) metrics_->set_queue_depth(static_cast<int64_t>(waiting_));
    if (shutdown_) return AcquireStatus::kShuttingDown;
    if (!ok) return AcquireStatus::kTimeout;
  }
  // The free slot with the longest common prefix; ties to the lowest index.
  size_t best = slots_.size(), best_len = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (busy_[i]) continue;
    const auto h = slots_[i]->history();
    const size_t n = std::min(h.size(), prompt.size());
    size_t len = 0;
    while (len < n && h[len] == prompt[len]) ++len;
    if (best == slots_.size() || len > best_len) {
      best = i;
      best_len = len;
    }
  }
  busy_[best] = true;
  if (metrics_) metrics_->set_busy_slots(std::count(busy_.begin(), busy_.end(), true));
  lease = std::make_unique<SlotLease>(this, best);
  return AcquireStatus::kOk;
}

void SlotPool::release(size_t index) {
  {
    std::lock_guard lock(mu_);
    busy_[index] = false;
    if (metrics_) metrics_->set_busy_slots(std::count(busy_.begin(), busy_.end(), true));
  }
  cv_.notify_one();
}

void SlotPool::shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

}  // namespace omni::server
