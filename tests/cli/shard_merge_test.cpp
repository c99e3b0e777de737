// `bench run --shard` and `bench merge` end to end on the real model and tasks: suites/smoke.json in 2 shards,
// merged, equals an unsharded run (same configurations, same accuracy values); `--dry-run --shard` prints the parts;
// merge errors exit with code 2 and name the file. Needs the default model and the shared data.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "harness/core/store.h"
#include "tests/cli/bench_process.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

namespace fs = std::filesystem;

std::string suite_path(const std::string& name) { return (fs::path(test::source_dir()) / "suites" / name).string(); }

// comparison_key -> (metric|labels|repetition -> value) for the values that do not depend on timing.
std::map<std::string, std::map<std::string, double>> accuracy_values(const std::string& db) {
  Store s(db, false);
  Stmt st(s.db(), "SELECT c.comparison_key, r.metric || '|' || r.labels || '|' || r.repetition, r.value FROM results r "
                  "JOIN configurations c ON c.id = r.configuration_id WHERE c.task != 'latency' OR r.metric IN "
                  "('kv_bytes', 'kv_ratio', 'weight_bytes')");
  std::map<std::string, std::map<std::string, double>> out;
  while (st.step()) out[st.col_text(0)][st.col_text(1)] = st.col_double(2);
  return out;
}

TEST(ShardMerge, DryRunPrintsEachPartWithItsEstimatedCost) {
  test::TempDir dir;
  auto r = test::run_bench({"run", suite_path("kv.json"), "--dry-run", "--shard", "2/4"}, dir.path(), dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(" configurations in 4 parts, balanced by static estimate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("this is shard 2/4"), std::string::npos) << r.out;
  auto bad = test::run_bench({"run", suite_path("kv.json"), "--dry-run", "--shard", "5/4"}, dir.path(), dir.path());
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--shard: expected i/N with integers 1 <= i <= N"), std::string::npos) << bad.err;
  auto costs = test::run_bench({"run", suite_path("kv.json"), "--dry-run", "--costs-from", "x.db"}, dir.path(), dir.path());
  EXPECT_EQ(costs.code, 2);
  EXPECT_NE(costs.err.find("--costs-from: expected it together with --shard"), std::string::npos) << costs.err;
}

TEST(ShardMerge, TwoShardsOfTheSmokeSuiteMergeIntoTheUnshardedResults) {
  BENCH_REQUIRE_MODEL(model);
  test::TempDir dir;
  const std::string whole = dir / "whole.db";
  auto r = test::run_bench({"run", suite_path("smoke.json"), "--db", whole, "--no-report"}, dir.path(), dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> shards;
  for (int i = 1; i <= 2; ++i) {
    shards.push_back(dir / ("shard-" + std::to_string(i) + ".db"));
    auto s = test::run_bench({"run", suite_path("smoke.json"), "--shard", std::to_string(i) + "/2", "--db", shards.back(),
                              "--no-report"}, dir.path(), dir.path());
    ASSERT_EQ(s.code, 0) << s.err;
  }
  const std::string merged = dir / "merged.db";
  auto m = test::run_bench({"merge", merged, shards[0], shards[1]}, dir.path(), dir.path());
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.out.find("merged 2 of 2 shard(s) into " + merged + ": run 1, 8 configuration(s): 8 complete, 0 failed, "
                       "0 gap(s); status complete"), std::string::npos) << m.out;
  auto a = accuracy_values(merged), b = accuracy_values(whole);
  EXPECT_EQ(a.size(), 8u);
  EXPECT_EQ(a, b);  // exactly equal: same configurations, same values
  bool has_ppl = false, has_kl = false;
  for (const auto& [key, values] : a)
    for (const auto& [metric, v] : values) {
      has_ppl |= metric.starts_with("ppl|");
      has_kl |= metric.starts_with("kl_mean|");
    }
  EXPECT_TRUE(has_ppl && has_kl);
  // bench show reads the merged run.
  auto show = test::run_bench({"show", "1", "--db", merged}, dir.path(), dir.path());
  EXPECT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find("suite smoke"), std::string::npos) << show.out;

  // A shard missing: exit 2 naming what is missing; --allow-partial records the gap, exit 1.
  const std::string partial = dir / "partial.db";
  auto missing = test::run_bench({"merge", partial, shards[0]}, dir.path(), dir.path());
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("planned configurations are in no input"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(partial));
  auto gap = test::run_bench({"merge", partial, shards[0], "--allow-partial"}, dir.path(), dir.path());
  EXPECT_EQ(gap.code, 1) << gap.err;
  EXPECT_NE(gap.out.find("status failed"), std::string::npos) << gap.out;
}

}  // namespace
}  // namespace bp
