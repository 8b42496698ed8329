// A persistent pool of worker threads for data-parallel loops over row ranges. Workers spin
// briefly after each job (a matvec of a few hundred rows takes microseconds, far less than a
// futex wake-up) and then sleep, so an idle pool costs nothing. The calling thread takes part,
// so a pool of N threads runs N-1 workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace omni {

class ThreadPool {
 public:
  // threads <= 0: std::thread::hardware_concurrency() (at least 1).
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Total threads that run a parallel_for, including the caller.
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over disjoint ranges covering [0, n), each at least `grain` long (but
  // the last), on all threads; returns when every range is done. Which thread runs a range is
  // not fixed, so fn must make each element's result depend only on the element (then results
  // do not depend on the thread count). The first exception thrown by fn is rethrown here after
  // all threads have stopped; ranges not yet started are skipped. A parallel_for called from
  // inside fn runs serially on the calling thread. Calls from different threads are serialized.
  template <class Fn>
  void parallel_for(int64_t n, Fn&& fn, int64_t grain = 1) {
    using F = std::remove_reference_t<Fn>;
    run(n, grain, const_cast<void*>(static_cast<const void*>(&fn)),
        [](void* f, int64_t b, int64_t e) { (*static_cast<F*>(f))(b, e); });
  }

  // The process-wide pool, created on first use with OMNI_THREADS threads if that environment
  // variable is set, else hardware concurrency.
  static ThreadPool& global();

 private:
  using Invoke = void (*)(void*, int64_t, int64_t);
  void run(int64_t n, int64_t grain, void* fn, Invoke invoke);
  void worker_loop();
  void work_on_current_job();

  std::vector<std::thread> workers_;
  std::mutex submit_mu_;
  // Current job, published by bumping generation_.
  void* fn_ = nullptr;
  Invoke invoke_ = nullptr;
  int64_t n_ = 0, chunk_ = 1, num_chunks_ = 0;
  // Workers wake on generation_ changes. A worker joins job g only while open_job_ == g,
  // announcing itself in in_job_ first; the caller waits for finished chunks (not for workers
  // that are asleep or descheduled), then closes the job and waits out the workers inside it.
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<uint64_t> open_job_{0};
  alignas(64) std::atomic<int> in_job_{0};
  alignas(64) std::atomic<int64_t> next_chunk_{0};
  alignas(64) std::atomic<int64_t> done_chunks_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> stop_{false};
  std::mutex error_mu_;
  std::exception_ptr error_;
};

}  // namespace omni
