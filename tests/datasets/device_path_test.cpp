// Every registered task run through the device path of rt::Session (a DeviceSession that computes on the CPU,
// tests/common/cpu_device_session.h), against the same task on the plain CPU path. On the device path the CPU KV
// cache is not reachable (Session::cache() throws), so this catches a task that would fail on CUDA for reasons
// other than the GPU itself; the numbers must be identical, since the same computation runs behind both paths.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "harness/core/task.h"
#include "tests/common/cpu_device_session.h"
#include "tests/datasets/task_harness.h"

namespace bp {
namespace {

struct Case {
  std::string task;
  json options;
  std::string method;
  json params;
};

TEST(DevicePath, EveryTaskRunsOnTheDeviceSessionApiWithTheSameResults) {
  BENCH_REQUIRE_MODEL(path);
  const std::vector<Case> cases = {
      {"wikitext2", {{"n_ctx", 128}, {"max_chunks", 1}, {"mode", "streaming"}, {"step", 16}}, "kivi",
       {{"residual", 32}}},
      {"passkey", {{"context", 256}, {"depths_percent", {50}}, {"items", 1}}, "h2o", json::object()},
      {"lines", {{"context", 320}, {"depths_percent", {50}}, {"items", 1}}, "streamingllm", {{"window", 100}}},
      {"piqa", {{"limit", 2}, {"seed", 5}}, "kv-int8", json::object()},
      {"arc-challenge", {{"limit", 1}}, "snapkv", {{"budget", "ratio"}}},
      {"gsm8k", {{"limit", 1}, {"max_new_tokens", 4}, {"seed", 3}}, "zipcache", json::object()},
      {"latency", {{"contexts", {64}}, {"decode_tokens", 3}, {"warmup", 0}, {"repetitions", 1}}, "kv-uniform",
       {{"bits", 4}, {"group", 32}}},
  };
  size_t covered = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.task + " / " + c.method);
    test::TaskSetup cpu;
    cpu.method = c.method;
    cpu.method_params = c.params;
    cpu.is_reference = false;  // not the reference: tasks with a KL path compare against fp16
    test::TaskSetup dev = cpu;
    dev.session_factory = [&](rt::Model& m, int threads) {
      return test::as_device_session(test::method_session(m, c.method, c.params, threads));
    };
    const test::TaskRun a = test::run_task(c.task, c.options, cpu);
    const test::TaskRun b = test::run_task(c.task, c.options, dev);
    ASSERT_EQ(a.results.metrics.size(), b.results.metrics.size());
    for (size_t i = 0; i < a.results.metrics.size(); ++i) {
      const MetricValue &x = a.results.metrics[i], &y = b.results.metrics[i];
      ASSERT_EQ(x.name, y.name);
      // Timings and memory differ between two runs; everything else is the same computation.
      const bool measured = x.unit == "ms" || x.unit == "tok/s" || x.name == "peak_rss_bytes" ||
                            x.name == "scratch_bytes" || x.name.find("rss") != std::string::npos;
      if (!measured && !std::isnan(x.value)) {
        EXPECT_EQ(x.value, y.value) << x.name << " " << x.labels.dump();
      }
    }
    ASSERT_EQ(a.results.items.size(), b.results.items.size());
    for (size_t i = 0; i < a.results.items.size(); ++i) EXPECT_EQ(a.results.items[i].score, b.results.items[i].score);
    ++covered;
  }
  // Every registered task is in the list above (a new task must be added here).
  for (const TaskInfo* t : TaskRegistry::all()) {
    bool listed = false;
    for (const Case& c : cases) listed |= c.task == t->name;
    // Tasks over user-supplied files that are registrations of a task listed above: the same implementation.
    if (t->name == "arc-easy" || t->name == "hellaswag" || t->name == "multiple-choice") listed = true;  // = piqa's
    if (t->name == "text-ppl") listed = true;                                                             // = wikitext2

    EXPECT_TRUE(listed) << "task " << t->name << " is not run through the device path here";
  }
  EXPECT_EQ(covered, cases.size());
}

}  // namespace
}  // namespace bp
