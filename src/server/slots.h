// A fixed set of inference slots over one model (each its own Context and KV cache) and a
// bounded wait queue in front of them. A request takes the free slot whose token history shares
// the longest prefix with its prompt, so a continuing conversation reuses its KV cache.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "llm/model.h"
#include "server/metrics.h"

namespace omni::server {

class SlotPool;

// Exclusive use of one slot until destroyed.
class SlotLease {
 public:
  SlotLease(SlotPool* pool, size_t index) : pool_(pool), index_(index) {}
  ~SlotLease();
  SlotLease(const SlotLease&) = delete;
  SlotLease& operator=(const SlotLease&) = delete;
  llm::Context& context();
  size_t index() const { return index_; }

 private:
  SlotPool* pool_;
  size_t index_;
};

enum class AcquireStatus { kOk, kQueueFull, kTimeout, kShuttingDown };

class SlotPool {
 public:
  SlotPool(std::shared_ptr<const llm::Model> model, size_t n_slots, size_t max_queue,
           llm::ContextOptions ctx_options, Metrics* metrics);
  // Waits (at most until `deadline`) for a free slot. `prompt` steers the choice; empty: any.
  AcquireStatus acquire(std::span<const int32_t> prompt,
                        std::chrono::steady_clock::time_point deadline,
                        std::unique_ptr<SlotLease>& lease);
  // Wakes every waiter with kShuttingDown; running leases finish normally.
  void shutdown();
  size_t size() const { return slots_.size(); }
  uint32_t n_ctx() const { return slots_.front()->n_ctx(); }

 private:
  friend class SlotLease;
  void release(size_t index);
  std::vector<std::unique_ptr<llm::Context>> slots_;
  std::vector<bool> busy_;
  size_t max_queue_;
  size_t waiting_ = 0;
  bool shutdown_ = false;
  Metrics* metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace omni::server
