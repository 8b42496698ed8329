// Cancellation shared by every pipeline stage: an atomic flag plus an optional deadline.
// A CancelToken is a cheap handle (copies share one state), so the thread that runs a turn and
// the thread that detects barge-in (or an HTTP disconnect) can hold the same token.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "core/error.h"

namespace omni::pipeline {

using Clock = std::chrono::steady_clock;

class CancelToken {
 public:
  CancelToken() : state_(std::make_shared<State>()) {}

  // Any thread, any time; idempotent.
  void cancel() const { state_->flag.store(true, std::memory_order_release); }

  // Work must stop (soon) once this is true: cancel() was called or the deadline has passed.
  bool cancelled() const {
    if (state_->flag.load(std::memory_order_acquire)) return true;
    const int64_t d = state_->deadline_ns.load(std::memory_order_relaxed);
    return d != kNoDeadline && Clock::now().time_since_epoch().count() >= d;
  }

  // Cancels automatically at `t` (replaces an earlier deadline). Set it before sharing the token
  // or from any thread; it is atomic.
  void set_deadline(Clock::time_point t) const {
    state_->deadline_ns.store(t.time_since_epoch().count(), std::memory_order_relaxed);
  }
  void set_timeout(Clock::duration d) const { set_deadline(Clock::now() + d); }
  void clear_deadline() const { state_->deadline_ns.store(kNoDeadline, std::memory_order_relaxed); }

  // Throws Cancelled when cancelled(): for code that unwinds rather than returning early.
  void throw_if_cancelled(const std::string& where) const;

 private:
  static constexpr int64_t kNoDeadline = INT64_MAX;
  struct State {
    std::atomic<bool> flag{false};
    std::atomic<int64_t> deadline_ns{kNoDeadline};
  };
  std::shared_ptr<State> state_;
};

// Thrown by throw_if_cancelled(). Stages normally return with a "cancelled" status instead; this
// is for deep call chains that cannot.
class Cancelled : public Error {
 public:
  using Error::Error;
};

inline void CancelToken::throw_if_cancelled(const std::string& where) const {
  if (cancelled()) throw Cancelled(where + ": cancelled");
}

}  // namespace omni::pipeline
