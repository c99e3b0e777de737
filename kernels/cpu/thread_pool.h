#pragma once
// The CPU backend's threads. A persistent pool whose workers wait for work by spinning for a few microseconds and
// then sleeping on a futex (C++20 atomic wait). Why not OpenMP: libgomp's workers spin for ~100k iterations at
// every barrier, and on a shared 2-core machine (CI running tests in parallel, a noisy neighbour) a spinning worker
// waiting for a descheduled one slowed short prefills by 10-50x. Bounded spinning keeps the fast hand-off when the
// cores are free and degrades gracefully when they are not.
//
// Determinism: run() hands thread t the same tid for a given thread count; callers partition work by tid (static),
// or claim independent items dynamically (results must not depend on which thread computed an item).
#include <atomic>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace bp::kern {

class ThreadPool {
 public:
  static ThreadPool& global();

  // Calls fn(tid, nthreads) for tid in [0, nthreads) concurrently; the caller runs tid 0 and returns when all are
  // done. A call from inside a pool job runs every tid inline on the calling thread (no nested parallelism).
  // Exceptions: when fn throws on any thread (a worker or the caller), run() still waits for every tid to finish,
  // then rethrows the first exception caught to its caller; the other tids run to completion (or their own throw,
  // which is dropped). The pool stays usable afterwards. parallel_chunks/parallel_dynamic inherit this contract.
  template <class F>
  void run(int nthreads, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run_impl(nthreads, [](void* ctx, int tid, int n) { (*static_cast<Fn*>(ctx))(tid, n); },
             const_cast<void*>(static_cast<const void*>(&fn)));
  }

  ~ThreadPool();

 private:
  using Call = void (*)(void*, int, int);
  ThreadPool() = default;
  void run_impl(int nthreads, Call call, void* ctx);
  struct Impl;
  Impl* impl_ = nullptr;
};

// Static partition of [0, n) into nthreads contiguous chunks: body(begin, end) per chunk.
template <class F>
void parallel_chunks(int threads, int64_t n, F&& body) {
  if (n <= 0) return;
  if (threads > n) threads = (int)n;
  if (threads <= 1) {
    body((int64_t)0, n);
    return;
  }
  ThreadPool::global().run(threads, [&](int t, int nt) {
    const int64_t b = n * t / nt, e = n * (t + 1) / nt;
    if (b < e) body(b, e);
  });
}

// Items [0, n) claimed one at a time from a shared counter (load balancing for uneven items): body(item, tid).
template <class F>
void parallel_dynamic(int threads, int64_t n, F&& body) {
  if (n <= 0) return;
  if (threads > n) threads = (int)n;
  if (threads <= 1) {
    for (int64_t i = 0; i < n; ++i) body(i, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  ThreadPool::global().run(threads, [&](int t, int) {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n;
         i = next.fetch_add(1, std::memory_order_relaxed))
      body(i, t);
  });
}

}  // namespace bp::kern
