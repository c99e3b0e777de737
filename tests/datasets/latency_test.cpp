// latency: a small real-model run stores every repetition, the cache's own byte counts and the ratio to fp16.
#include <gtest/gtest.h>

#include "datasets/common/process_memory.h"
#include "tests/datasets/task_harness.h"

namespace bp::data {
namespace {

TEST(ProcessMemory, PeakRssIsReadable) {
  // Current first, then the peak: the resident set may grow between the two reads, never the other way round.
  auto cur = current_rss_bytes();
  ASSERT_TRUE(cur.has_value());
  auto peak = peak_rss_bytes();
  ASSERT_TRUE(peak.has_value());
  EXPECT_GT(*peak, 0u);
  EXPECT_LE(*cur, *peak);
}

TEST(Latency, SmallRunWithFp16) {
  BENCH_REQUIRE_MODEL(path);
  test::TaskRun r = test::run_task(
      "latency", {{"contexts", {64, 128}}, {"decode_tokens", 4}, {"warmup", 0}, {"repetitions", 2}});
  for (int L : {64, 128}) {
    const json lab = {{"context", L}};
    for (int rep : {0, 1}) {
      EXPECT_GT(r.metric("prefill_ms", lab, rep), 0.0) << L << " rep " << rep;
      EXPECT_GT(r.metric("prefill_tok_s", lab, rep), 0.0);
      EXPECT_GT(r.metric("decode_ms_median", lab, rep), 0.0);
      EXPECT_GE(r.metric("decode_ms_p90", lab, rep), r.metric("decode_ms_median", lab, rep));
    }
    // fp16 on SmolLM2-135M: 2 (K, V) x 30 layers x 3 KV heads x 64 dims x 2 bytes = 23,040 bytes per token.
    EXPECT_EQ(r.metric("kv_bytes", lab), 23040.0 * L);
    double parts = 0;
    for (const char* part : {"payload", "scales", "zeros", "indices", "window", "scores", "other"})
      parts += r.metric("kv_bytes_part", {{"context", L}, {"part", part}});
    EXPECT_EQ(parts, 23040.0 * L);
    EXPECT_EQ(r.metric("kv_bytes_part", {{"context", L}, {"part", "payload"}}), 23040.0 * L);
    EXPECT_EQ(r.metric("kv_bytes_after_decode", lab), 23040.0 * (L + 4));
    // Allocated beside held: at least what is held, with no 2x growth slack (bounded growth in 16-token quanta).
    for (const auto& [alloc, held] : {std::pair{"kv_bytes_allocated", 23040.0 * L},
                                      std::pair{"kv_bytes_allocated_after_decode", 23040.0 * (L + 4)}}) {
      EXPECT_GE(r.metric(alloc, lab), held) << alloc << " at " << L;
      EXPECT_LE(r.metric(alloc, lab), 1.3 * held) << alloc << " at " << L;
    }
    EXPECT_EQ(r.metric("kv_ratio", lab), 1.0);
  }
  EXPECT_EQ(r.count("prefill_ms"), 4u);
  EXPECT_GT(r.metric("weight_bytes"), 100e6);
  EXPECT_EQ(r.metric("threads"), 2.0);
  EXPECT_GT(r.metric("peak_rss_bytes"), r.metric("weight_bytes") * 0.5);
}

TEST(Latency, RatioComesFromTheReferenceSession) {
  BENCH_REQUIRE_MODEL(path);
  ReferenceCache cache;
  int reference_sessions = 0;
  test::TaskSetup setup;
  setup.is_reference = false;
  setup.reference_cache = &cache;
  setup.reference_sessions = &reference_sessions;
  const json opts = {{"contexts", {32}}, {"decode_tokens", 2}, {"warmup", 0}, {"repetitions", 1}};
  test::TaskRun r = test::run_task("latency", opts, setup);
  EXPECT_EQ(r.metric("kv_ratio", {{"context", 32}}), 1.0);
  EXPECT_EQ(reference_sessions, 2);  // identification + one measurement of the fp16 cache
  test::run_task("latency", opts, setup);
  EXPECT_EQ(reference_sessions, 3);  // cached: identification only
}

}  // namespace
}  // namespace bp::data
