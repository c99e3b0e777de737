#include "kernels/cpu/thread_pool.h"

#include <immintrin.h>

#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace bp::kern {

namespace {
thread_local bool t_in_job = false;

// Spin (with pause) for up to `budget` waiting for pred(); returns whether it became true.
template <class P>
bool spin_until(P pred, std::chrono::microseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    _mm_pause();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return false;
  }
}

constexpr std::chrono::microseconds kSpin{50};
}  // namespace

struct ThreadPool::Impl {
  std::mutex mu;                        // serializes run() calls from different threads and worker creation
  std::vector<std::thread> workers;
  std::atomic<uint64_t> generation{0};  // bumped once per job; workers wait for it to change
  // Workers that have not yet finished with the current job. EVERY worker acknowledges every job (those with
  // tid >= nthreads just skip it), so the caller never overwrites the job's fields while a worker may read them.
  std::atomic<int> pending{0};
  std::atomic<bool> stop{false};
  Call call = nullptr;
  void* ctx = nullptr;
  int nthreads = 0;
  // The first exception thrown by any tid of the current job (worker or caller), rethrown to the caller of run()
  // once every worker has finished the job. A worker must never let an exception escape (std::terminate), and the
  // caller must not leave run() while workers still read the job's ctx (it lives on the caller's stack).
  std::mutex error_mu;
  std::exception_ptr error;

  void run_tid(int tid) {
    t_in_job = true;
    try {
      call(ctx, tid, nthreads);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
    }
    t_in_job = false;
  }

  // `seen` starts at the generation current when the worker was created (before the job it joins is published).
  void worker(int tid, uint64_t seen) {
    for (;;) {
      if (!spin_until([&] { return generation.load(std::memory_order_acquire) != seen; }, kSpin)) {
        generation.wait(seen, std::memory_order_acquire);
      }
      seen = generation.load(std::memory_order_acquire);
      if (stop.load(std::memory_order_acquire)) return;
      if (tid < nthreads) run_tid(tid);
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) pending.notify_one();
    }
  }
};

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::~ThreadPool() {
  if (!impl_) return;
  impl_->stop.store(true, std::memory_order_release);
  impl_->generation.fetch_add(1, std::memory_order_acq_rel);
  impl_->generation.notify_all();
  for (auto& w : impl_->workers) w.join();
  delete impl_;
}

void ThreadPool::run_impl(int nthreads, Call call, void* ctx) {
  if (nthreads <= 1 || t_in_job) {
    for (int t = 0; t < std::max(1, nthreads); ++t) call(ctx, t, std::max(1, nthreads));
    return;
  }
  static std::once_flag once;
  std::call_once(once, [this] { impl_ = new Impl(); });
  Impl& I = *impl_;
  std::lock_guard<std::mutex> lock(I.mu);
  // Workers have tids 1..; the caller is tid 0.
  while ((int)I.workers.size() < nthreads - 1) {
    const int tid = (int)I.workers.size() + 1;
    const uint64_t gen = I.generation.load(std::memory_order_acquire);
    I.workers.emplace_back([&I, tid, gen] { I.worker(tid, gen); });
  }
  I.call = call;
  I.ctx = ctx;
  I.nthreads = nthreads;
  I.error = nullptr;
  I.pending.store((int)I.workers.size(), std::memory_order_release);
  I.generation.fetch_add(1, std::memory_order_acq_rel);
  I.generation.notify_all();
  I.run_tid(0);
  if (!spin_until([&] { return I.pending.load(std::memory_order_acquire) == 0; }, kSpin)) {
    for (int p = I.pending.load(std::memory_order_acquire); p != 0; p = I.pending.load(std::memory_order_acquire))
      I.pending.wait(p, std::memory_order_acquire);
  }
  // Every worker is done with the job: the pool is ready for the next one whether or not this one threw.
  if (I.error) std::rethrow_exception(std::exchange(I.error, nullptr));
}

}  // namespace bp::kern
