// The thread pool's exception contract: an exception thrown in a job reaches the caller of the parallel loop
// (whichever thread ran the throwing part), and the pool runs the next loop normally.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu/thread_pool.h"

namespace bp::kern {
namespace {

// A loop over every chunk that still works after a throwing one: each index is visited exactly once.
void expect_pool_usable(int threads) {
  const int64_t n = 1000;
  std::vector<std::atomic<int>> hits(n);
  parallel_chunks(threads, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
  std::atomic<int64_t> sum{0};
  parallel_dynamic(threads, n, [&](int64_t i, int) { sum.fetch_add(i); });
  ASSERT_EQ(sum.load(), n * (n - 1) / 2);
}

// The pool needs at least 2 threads to hand chunks to a worker; on a 1-core machine the workers still exist.
constexpr int kThreads = 4;

TEST(ThreadPool, ExceptionFromWorkerChunkReachesCaller) {
  for (int rep = 0; rep < 500; ++rep) {
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> thrown_on_worker{false};
    try {
      // Chunk 0 is the caller's (tid 0); the last chunk runs on a worker.
      parallel_chunks(kThreads, kThreads, [&](int64_t b, int64_t) {
        if (b == kThreads - 1) {
          thrown_on_worker = std::this_thread::get_id() != caller;
          throw std::runtime_error("worker chunk");
        }
      });
      FAIL() << "no exception reached the caller";
    } catch (const std::runtime_error& e) {
      ASSERT_EQ(std::string(e.what()), "worker chunk");
    }
    ASSERT_TRUE(thrown_on_worker.load()) << "the throwing chunk ran on the caller: the test would prove nothing";
    expect_pool_usable(kThreads);
  }
}

TEST(ThreadPool, ExceptionFromCallerChunkWaitsForWorkersThenReachesCaller) {
  for (int rep = 0; rep < 500; ++rep) {
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<int> worker_chunks_done{0};
    try {
      parallel_chunks(kThreads, kThreads, [&](int64_t b, int64_t) {
        if (b == 0) {
          EXPECT_EQ(std::this_thread::get_id(), caller);
          throw std::logic_error("caller chunk");
        }
        std::this_thread::yield();
        worker_chunks_done.fetch_add(1);
      });
      FAIL() << "no exception reached the caller";
    } catch (const std::logic_error& e) {
      ASSERT_EQ(std::string(e.what()), "caller chunk");
    }
    // run() returned only after every worker finished with the job (its lambda lives on this stack frame).
    ASSERT_EQ(worker_chunks_done.load(), kThreads - 1);
    expect_pool_usable(kThreads);
  }
}

TEST(ThreadPool, FirstOfSeveralExceptionsReachesCallerOnce) {
  for (int rep = 0; rep < 500; ++rep) {
    int caught = 0;
    try {
      parallel_dynamic(kThreads, 64, [&](int64_t i, int) { throw std::runtime_error("item " + std::to_string(i)); });
    } catch (const std::runtime_error& e) {
      ++caught;
      ASSERT_EQ(std::string(e.what()).rfind("item ", 0), 0u);
    }
    ASSERT_EQ(caught, 1);
    expect_pool_usable(kThreads);
  }
}

TEST(ThreadPool, ExceptionFromNestedInlineLoopPropagates) {
  // A loop inside a job runs inline; its exception travels through the outer job to the caller.
  for (int rep = 0; rep < 200; ++rep) {
    EXPECT_THROW(parallel_chunks(kThreads, kThreads,
                                 [&](int64_t b, int64_t) {
                                   parallel_chunks(kThreads, 8, [&](int64_t ib, int64_t) {
                                     if (b == 1 && ib == 2) throw std::out_of_range("nested");
                                   });
                                 }),
                 std::out_of_range);
    expect_pool_usable(kThreads);
  }
}

TEST(ThreadPool, SingleThreadLoopPropagatesToo) {
  EXPECT_THROW(parallel_chunks(1, 10, [](int64_t, int64_t) { throw std::runtime_error("serial"); }),
               std::runtime_error);
  expect_pool_usable(1);
}

}  // namespace
}  // namespace bp::kern
