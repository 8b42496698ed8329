#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace omni {
namespace {

thread_local bool t_inside_job = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// How long a worker keeps polling for the next job before sleeping on the futex. A token's
// kernels are launched back to back a few microseconds apart, so spinning through that gap is
// what keeps dispatch cheap; past this, the thread sleeps and leaves the core to others.
constexpr auto kSpinTime = std::chrono::microseconds(200);

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers_.reserve(static_cast<size_t>(threads - 1));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool([] {
    const char* env = std::getenv("OMNI_THREADS");
    if (env == nullptr || *env == '\0') return 0;
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 1024) {
      throw Error(std::string("OMNI_THREADS=") + env + ": expected a thread count 1..1024");
    }
    return static_cast<int>(v);
  }());
  return pool;
}

void ThreadPool::work_on_current_job() {
  t_inside_job = true;
  for (;;) {
    const int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (c >= num_chunks_) break;
    // After a failure the remaining chunks are skipped but still counted as done.
    if (!failed_.load(std::memory_order_relaxed)) {
      const int64_t b = c * chunk_;
      const int64_t e = std::min(n_, b + chunk_);
      try {
        invoke_(fn_, b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true, std::memory_order_relaxed);
      }
    }
    done_chunks_.fetch_add(1, std::memory_order_acq_rel);
  }
  t_inside_job = false;
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    if (g == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
      int spins = 0;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) {
        cpu_relax();
        if (++spins % 64 == 0 && std::chrono::steady_clock::now() > deadline) {
          generation_.wait(seen, std::memory_order_acquire);
        }
      }
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    in_job_.fetch_add(1, std::memory_order_seq_cst);
    if (open_job_.load(std::memory_order_seq_cst) == g) work_on_current_job();
    in_job_.fetch_sub(1, std::memory_order_release);
  }
}

namespace {

// Waits for a condition other threads make true within microseconds, yielding the core if it
// takes longer (a worker may have been descheduled on a busy machine).
template <class Pred>
void spin_until(Pred done) {
  for (int spins = 0; !done(); ++spins) {
    if (spins < 2000) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace

void ThreadPool::run(int64_t n, int64_t grain, void* fn, Invoke invoke) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (t_inside_job || workers_.empty() || n <= grain) {
    invoke(fn, 0, n);
    return;
  }
  std::lock_guard<std::mutex> submit(submit_mu_);
  // A few chunks per thread balance load when another process takes a core for a while,
  // without making the shared counter hot.
  const int64_t target_chunks = static_cast<int64_t>(size()) * 4;
  chunk_ = std::max(grain, (n + target_chunks - 1) / target_chunks);
  num_chunks_ = (n + chunk_ - 1) / chunk_;
  n_ = n;
  fn_ = fn;
  invoke_ = invoke;
  error_ = nullptr;
  failed_.store(false, std::memory_order_relaxed);
  next_chunk_.store(0, std::memory_order_relaxed);
  done_chunks_.store(0, std::memory_order_relaxed);
  const uint64_t g = generation_.load(std::memory_order_relaxed) + 1;
  open_job_.store(g, std::memory_order_seq_cst);
  generation_.store(g, std::memory_order_release);
  generation_.notify_all();
  work_on_current_job();
  spin_until([&] { return done_chunks_.load(std::memory_order_acquire) == num_chunks_; });
  open_job_.store(0, std::memory_order_seq_cst);
  spin_until([&] { return in_job_.load(std::memory_order_seq_cst) == 0; });
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

}  // namespace omni
