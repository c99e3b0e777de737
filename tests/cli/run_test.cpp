// `bench run` end to end on the real model and tasks (suites/smoke.json): a whole run and what it stores, a kill -9
// of the running process followed by --resume, and two processes writing one database at once. Needs the default
// model (scripts/setup.sh fetches it) and the shared data.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "harness/core/store.h"
#include "tests/cli/bench_process.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

namespace fs = std::filesystem;

std::string suite_path(const std::string& name) { return (fs::path(test::source_dir()) / "suites" / name).string(); }

std::string integrity(const std::string& db) {
  Store s(db, false);
  Stmt st(s.db(), "PRAGMA integrity_check");
  st.step();
  return st.col_text(0);
}

int64_t count(const std::string& db, const std::string& sql) {
  Store s(db, false);
  Stmt st(s.db(), sql);
  st.step();
  return st.col_int(0);
}

TEST(Run, ShippedSuitesAreValid) {
  test::TempDir dir;
  for (const auto& f : fs::directory_iterator(fs::path(test::source_dir()) / "suites")) {
    if (f.path().extension() != ".json") continue;
    auto r = test::run_bench({"run", f.path().string(), "--dry-run", "--db", dir / "x.db"}, dir.path(), dir.path());
    EXPECT_EQ(r.code, 0) << f.path() << "\n" << r.err;
    EXPECT_NE(r.out.find("order  plan  configuration"), std::string::npos) << r.out;
  }
  EXPECT_FALSE(fs::exists(dir / "x.db"));
}

TEST(Run, SmokeSuiteRunsEndToEndAndStoresEveryMetric) {
  BENCH_REQUIRE_MODEL(model);
  test::TempDir dir;
  const std::string db = dir / "nested/dir/bench.db";
  auto t0 = std::chrono::steady_clock::now();
  auto r = test::run_bench({"run", suite_path("smoke.json"), "--db", db}, dir.path(), dir.path());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("smoke suite: %.1f s\n", seconds);
  EXPECT_NE(r.err.find("[1/8] "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[8/8] done in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ETA"), std::string::npos);

  Store store(db, false);
  json runs = store.list_runs();
  ASSERT_EQ(runs.size(), 1u);
  json doc = store.load_run(runs[0]["id"].get<int64_t>());
  EXPECT_EQ(doc["run"]["status"], "complete");
  EXPECT_EQ(doc["run"]["suite_name"], "smoke");
  EXPECT_EQ(doc["run"]["threads"], 2);
  EXPECT_FALSE(doc["run"]["ended_at"].is_null());
  ASSERT_EQ(doc["configurations"].size(), 8u);
  // Each task's headline metrics are there for both methods.
  std::map<std::string, std::vector<std::string>> required = {
      {"wikitext2", {"ppl", "kl_mean", "top1_agree"}},
      {"passkey", {"accuracy"}},
      {"piqa", {"acc", "acc_norm"}},
      {"latency", {"prefill_ms", "decode_ms_median", "kv_bytes", "kv_ratio", "weight_bytes", "peak_rss_bytes"}}};
  std::set<int64_t> order;
  for (const auto& c : doc["configurations"]) {
    EXPECT_EQ(c["status"], "complete") << c["label"] << ": " << c["error"];
    EXPECT_EQ(c["model_sha256"], "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    order.insert(c["exec_order"].get<int64_t>());
    std::set<std::string> metrics;
    for (const auto& m : c["results"]) metrics.insert(m["metric"].get<std::string>());
    for (const auto& m : required.at(c["task"].get<std::string>())) EXPECT_TRUE(metrics.count(m)) << c["label"] << " " << m;
    if (c["task"] == "latency") {
      EXPECT_FALSE(c["summaries"].empty()) << "3 repetitions must give summaries";
    }
    if (c["task"] == "piqa") {
      EXPECT_EQ(c["items"].size(), 4u);
    }
    if (c["task"] == "wikitext2") {
      EXPECT_FALSE(json(c["dataset_files"]).empty());
    }
  }
  EXPECT_EQ(order.size(), 8u);
  // The fp16 reference's KL divergence from itself is zero.
  for (const auto& c : doc["configurations"])
    if (c["task"] == "wikitext2" && c["method"] == "fp16")
      for (const auto& m : c["results"])
        if (m["metric"] == "kl_mean") {
          EXPECT_NEAR(m["value"].get<double>(), 0.0, 1e-9);
        }
  EXPECT_EQ(integrity(db), "ok");

  const std::string id = doc["run"]["id"].dump();
  auto show = test::run_bench({"show", id, "--db", db}, dir.path(), dir.path());
  EXPECT_EQ(show.code, 0);
  EXPECT_NE(show.out.find("suite smoke"), std::string::npos);
  EXPECT_NE(show.out.find("prefill_ms"), std::string::npos);
  for (const char* fmt : {"csv", "json", "md"}) EXPECT_EQ(test::run_bench({"export", id, "--format", fmt, "--db", db}, dir.path()).code, 0);
}

// A real `bench run` is killed with SIGKILL in the middle of the run; the database stays whole and --resume runs
// exactly the configurations that had no complete result.
TEST(Run, KillNineThenResumeRunsExactlyTheIncompleteConfigurations) {
  BENCH_REQUIRE_MODEL(model);
  test::TempDir dir;
  const std::string db = dir / "bench.db";
  test::BenchProcess p({"run", suite_path("smoke.json"), "--db", db}, dir.path(), dir.path());
  int64_t complete = 0;
  for (int i = 0; i < 3000 && complete < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(db)) continue;
    try {
      complete = count(db, "SELECT COUNT(*) FROM configurations WHERE status = 'complete'");
    } catch (const std::exception&) {
      // the schema may not be there yet
    }
  }
  ASSERT_EQ(kill(p.pid(), SIGKILL), 0);
  auto killed = p.wait();
  ASSERT_EQ(killed.code, 128 + SIGKILL) << "the run ended before it could be killed:\n" << killed.err;

  EXPECT_EQ(integrity(db), "ok");
  json before;
  {
    Store s(db, false);
    json runs = s.list_runs();
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0]["status"], "interrupted");
    before = s.load_run(runs[0]["id"].get<int64_t>());
  }
  std::set<std::string> incomplete;
  int64_t max_order = 0;
  for (const auto& c : before["configurations"]) {
    if (c["status"] == "complete") {
      EXPECT_FALSE(c["results"].empty());
      max_order = std::max(max_order, c["exec_order"].get<int64_t>());
    } else {
      EXPECT_TRUE(c["results"].empty()) << "an incomplete configuration holds results: " << c["label"];
      incomplete.insert(c["label"].get<std::string>());
    }
  }
  ASSERT_GE(8u - incomplete.size(), 2u);
  ASSERT_FALSE(incomplete.empty());

  auto resumed = test::run_bench({"run", suite_path("smoke.json"), "--db", db, "--resume"}, dir.path(), dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming run " + before["run"]["id"].dump() + ": " + std::to_string(incomplete.size()) +
                             " configuration(s) without a complete result"),
            std::string::npos)
      << resumed.err;
  Store s(db, false);
  json after = s.load_run(before["run"]["id"].get<int64_t>());
  EXPECT_EQ(after["run"]["status"], "complete");
  EXPECT_EQ(s.list_runs().size(), 1u);
  for (size_t i = 0; i < after["configurations"].size(); ++i) {
    const json& a = after["configurations"][i];
    const json& b = before["configurations"][i];
    EXPECT_EQ(a["status"], "complete") << a["label"];
    if (b["status"] == "complete") {  // untouched
      EXPECT_EQ(a["ended_at"], b["ended_at"]) << a["label"];
      EXPECT_EQ(a["exec_order"], b["exec_order"]) << a["label"];
      EXPECT_EQ(a["results"], b["results"]) << a["label"];
    } else {  // rerun, after everything that ran before
      EXPECT_GT(a["exec_order"].get<int64_t>(), max_order) << a["label"];
    }
  }
  EXPECT_EQ(integrity(db), "ok");
}

TEST(Run, TwoProcessesWritingOneDatabaseBothSucceed) {
  BENCH_REQUIRE_MODEL(model);
  test::TempDir dir;
  const std::string db = dir / "bench.db";
  const std::vector<std::string> args = {"run", suite_path("smoke.json"), "--db", db, "--filter", "wikitext2|passkey",
                                         "--threads", "1"};
  test::BenchProcess a(args, dir.path(), dir.path());
  test::BenchProcess b(args, dir.path(), dir.path());
  auto ra = a.wait();
  auto rb = b.wait();
  EXPECT_EQ(ra.code, 0) << ra.err;
  EXPECT_EQ(rb.code, 0) << rb.err;
  Store s(db, false);
  json runs = s.list_runs();
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& r : runs) {
    EXPECT_EQ(r["status"], "complete");
    EXPECT_EQ(r["complete"], 4);
  }
  EXPECT_EQ(integrity(db), "ok");
}

}  // namespace
}  // namespace bp
