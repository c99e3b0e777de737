// Sharded runs (bench run --shard) and their merge (harness/core/merge.h), with test tasks that need no model:
// the merged run equals an unsharded one, each shard's provenance is kept, every check fails with a message naming
// the file, merging is idempotent and atomic, and a failed shard is resumed alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "harness/common/error.h"
#include "harness/core/file_hash.h"
#include "harness/core/merge.h"
#include "harness/core/runner.h"
#include "harness/core/store.h"
#include "harness/core/store_schema.h"
#include "tests/common/test_env.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

namespace fs = std::filesystem;

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ModelBackend fake_backend() {
  ModelBackend b;
  b.sha256 = [](const ModelSpec& m) { return sha256_file(m.path); };
  b.load = [](const ModelSpec&, int) { return std::unique_ptr<rt::Model>(); };
  return b;
}

// Every row of the tables a merge writes, as text, minus the columns that are per database by nature (ids) and
// the times of day the runs were made.
std::string dump(const std::string& path, const std::string& table, const std::string& columns) {
  Db db(path, false);
  sqlite3_stmt* st = nullptr;
  const std::string sql = "SELECT " + columns + " FROM " + table + " ORDER BY 1, 2, 3";
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw std::runtime_error(sqlite3_errmsg(db.handle()));
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      out += (t ? reinterpret_cast<const char*>(t) : "NULL") + std::string("|");
    }
    out += "\n";
  }
  sqlite3_finalize(st);
  return out;
}

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir / "model.gguf", "not really a model");
    write_file(dir / "other.gguf", "another model");
    write_file(dir / "third.gguf", "a third model");
    // 3 models x 3 tasks x 2 methods = 18 configurations in 3 model instances.
    suite_path = dir / "sweep.json";
    write_file(suite_path, R"({"name": "sweep", "model": ["model.gguf", "other.gguf", "third.gguf"], "threads": 1, "seed": 3,
        "tasks": [{"task": "test-echo", "options": {"reps": 2}, "sweep": {"n": [1, 5]}},
                  {"task": "test-fail", "options": {"unless_file": ")" + (dir / "fixed") + R"("}}],
        "methods": [{"method": "fp16"}, {"method": "test-kv", "params": {"bits": 4}}]})");
    write_file(dir / "fixed", "");  // test-fail succeeds while this file exists
  }
  RunOptions options(const std::string& db) {
    RunOptions o;
    o.db_path = db;
    o.log = nullptr;
    o.data_root = dir / "data";
    return o;
  }
  RunOutcome run_shard(int i, int n, const std::string& db, bool resume = false) {
    RunOptions o = options(db);
    o.shard = ShardSpec{i, n};
    o.resume = resume;
    return run_suite(suite_path, o, fake_backend());
  }
  std::vector<std::string> shard_dbs(int n) {
    std::vector<std::string> dbs;
    for (int i = 1; i <= n; ++i) {
      dbs.push_back(dir / ("shard-" + std::to_string(i) + ".db"));
      EXPECT_EQ(run_shard(i, n, dbs.back()).exit_code, 0);
    }
    return dbs;
  }
  MergeOutcome merge(const std::vector<std::string>& inputs, bool allow_partial = false) {
    MergeOptions m;
    m.out = dir / "merged.db";
    m.inputs = inputs;
    m.allow_partial = allow_partial;
    m.command_line = "bench merge (test)";
    return merge_shards(m);
  }
  // The InputError's message of merging `inputs`, or "" when it succeeded.
  std::string merge_error(const std::vector<std::string>& inputs, bool allow_partial = false) {
    try {
      merge(inputs, allow_partial);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  test::TempDir dir;
  std::string suite_path;
};

// (comparison_key, metric, labels, repetition, value) of every result, and (comparison_key, key, score) of items.
std::string values_by_key(const std::string& db) {
  return dump(db, "results r JOIN configurations c ON c.id = r.configuration_id",
              "c.comparison_key, r.metric, r.labels, r.repetition, r.value") +
         dump(db, "items i JOIN configurations c ON c.id = i.configuration_id", "c.comparison_key, i.key, i.score") +
         dump(db, "summaries s JOIN configurations c ON c.id = s.configuration_id",
              "c.comparison_key, s.metric, s.labels, s.median, s.n");
}

TEST_F(MergeTest, ShardsMergeIntoTheRunAnUnshardedRunWouldHave) {
  RunOutcome whole = run_suite(suite_path, options(dir / "whole.db"), fake_backend());
  ASSERT_EQ(whole.exit_code, 0);
  ASSERT_EQ(whole.planned, 18u);
  std::vector<std::string> dbs = shard_dbs(3);
  size_t sum = 0;
  for (const auto& db : dbs) {
    Store s(db, false);
    size_t n = s.configurations(1).size();
    EXPECT_GT(n, 0u) << db;
    sum += n;
  }
  EXPECT_EQ(sum, 18u);

  MergeOutcome m = merge(dbs);
  EXPECT_EQ(m.status, "complete");
  EXPECT_EQ(m.configurations, 18u);
  EXPECT_EQ(m.shards, 3u);
  EXPECT_EQ(m.gaps, 0u);
  const std::string out = dir / "merged.db";
  // Same configurations (plan index, label, comparison key) and the same values.
  EXPECT_EQ(dump(out, "configurations", "plan_index, label, comparison_key, status"),
            dump(dir / "whole.db", "configurations", "plan_index, label, comparison_key, status"));
  EXPECT_EQ(values_by_key(out), values_by_key(dir / "whole.db"));

  Store merged(out, false);
  json doc = merged.load_run(m.run_id);
  EXPECT_EQ(doc["run"]["status"], "complete");
  EXPECT_EQ(doc["run"]["suite_sha256"], sha256_file(suite_path));
  EXPECT_EQ(doc["run"]["command_line"], "bench merge (test)");
  // Provenance per shard, and every configuration points at its shard.
  Stmt shards(merged.db(), "SELECT shard_index, shard_count, host, cpu_model, build_id, source_path, source_run_id "
                           "FROM shards ORDER BY shard_index");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(shards.step());
    EXPECT_EQ(shards.col_int(0), i);
    EXPECT_EQ(shards.col_int(1), 3);
    EXPECT_FALSE(shards.col_text(2).empty());
    EXPECT_FALSE(shards.col_text(3).empty());
    EXPECT_EQ(shards.col_text(4), current_build_id());
    EXPECT_EQ(shards.col_text(5), fs::absolute(dbs[i - 1]).lexically_normal().string());
    EXPECT_EQ(shards.col_int(6), 1);
  }
  Stmt orphans(merged.db(), "SELECT COUNT(*) FROM configurations c LEFT JOIN shards s ON s.id = c.shard_id "
                            "WHERE s.id IS NULL OR s.run_id != c.run_id");
  orphans.step();
  EXPECT_EQ(orphans.col_int(0), 0);
  // Each model instance was run by one shard only (no shard loads a model it does not need to).
  Stmt split(merged.db(), "SELECT COUNT(*) FROM (SELECT model_path FROM configurations GROUP BY 1 "
                          "HAVING COUNT(DISTINCT shard_id) > 1)");
  split.step();
  EXPECT_EQ(split.col_int(0), 0);
}

TEST_F(MergeTest, MoreShardsThanConfigurations) {
  // 18 configurations in 20 shards: 2 shards run nothing, and their (empty) runs still merge.
  std::vector<std::string> dbs = shard_dbs(20);
  size_t empty = 0;
  for (const auto& db : dbs) empty += Store(db, false).configurations(1).empty();
  EXPECT_EQ(empty, 2u);
  MergeOutcome m = merge(dbs);
  EXPECT_EQ(m.status, "complete");
  EXPECT_EQ(m.configurations, 18u);
  EXPECT_EQ(m.shards, 20u);
}

TEST_F(MergeTest, MergingAgainGivesTheSameDatabase) {
  std::vector<std::string> dbs = shard_dbs(2);
  merge(dbs);
  const std::string out = dir / "merged.db";
  auto everything = [&] {
    return dump(out, "runs", "*") + dump(out, "configurations", "*") + dump(out, "results", "*") +
           dump(out, "items", "*") + dump(out, "summaries", "*") + dump(out, "shards", "*");
  };
  const std::string first = everything();
  // Inputs in another order: the same merged database.
  merge({dbs[1], dbs[0]});
  EXPECT_EQ(everything(), first);
  EXPECT_FALSE(fs::exists(out + "-wal"));
}

TEST_F(MergeTest, DuplicatesMissingShardsAndOtherSuitesAreErrorsNamingTheFile) {
  std::vector<std::string> dbs = shard_dbs(3);
  // The same shard twice (a copy).
  fs::copy_file(dbs[0], dir / "copy.db");
  std::string e = merge_error({dbs[0], dbs[1], dbs[2], dir / "copy.db"});
  EXPECT_NE(e.find("copy.db: is shard 1/3, as " + fs::absolute(dbs[0]).lexically_normal().string() + " is; expected each "
                   "shard once"), std::string::npos) << e;
  e = merge_error({dbs[0], dbs[0]});
  EXPECT_NE(e.find("is given twice"), std::string::npos) << e;
  // A missing shard: an error listing what is missing, or a recorded gap with --allow-partial.
  e = merge_error({dbs[0], dbs[2]});
  EXPECT_NE(e.find("of the 18 planned configurations are in no input"), std::string::npos) << e;
  EXPECT_NE(e.find("shards not given: 2/3"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "merged.db")) << "a failed merge writes nothing";
  MergeOutcome partial = merge({dbs[0], dbs[2]}, /*allow_partial=*/true);
  EXPECT_EQ(partial.status, "failed");
  const size_t missing = Store(dbs[1], false).configurations(1).size();
  EXPECT_EQ(partial.gaps, missing);
  EXPECT_EQ(partial.configurations + partial.gaps, 18u);
  {
    Store merged(dir / "merged.db", false);
    Stmt gaps(merged.db(), "SELECT COUNT(*), MIN(reason) FROM merge_gaps");
    gaps.step();
    EXPECT_EQ((size_t)gaps.col_int(0), missing);
    EXPECT_NE(gaps.col_text(1).find("in no input (shards given: 1,3 of 3)"), std::string::npos) << gaps.col_text(1);
  }
  // A failed merge leaves an existing OUT untouched.
  const std::string before = read_bytes(dir / "merged.db");
  e = merge_error({dbs[0], dbs[2]});
  EXPECT_FALSE(e.empty());
  EXPECT_EQ(read_bytes(dir / "merged.db"), before);

  // Another suite.
  write_file(dir / "other.json", read_bytes(suite_path) + "\n");
  RunOptions o = options(dir / "other.db");
  o.shard = ShardSpec{2, 3};
  run_suite(dir / "other.json", o, fake_backend());
  e = merge_error({dbs[0], dir / "other.db", dbs[2]});
  EXPECT_NE(e.find("other.db: holds a run of suite sha256 " + sha256_file(dir / "other.json")), std::string::npos) << e;
  EXPECT_NE(e.find("expected the suite of"), std::string::npos) << e;
  // Other shard counts.
  std::vector<std::string> two = {dir / "two-1.db"};
  run_shard(1, 2, two[0]);
  e = merge_error({dbs[0], two[0]});
  EXPECT_NE(e.find("two-1.db: is shard 1/2; expected a shard of 3"), std::string::npos) << e;
}

TEST_F(MergeTest, ShardsThatReadDifferentModelFilesAreNotMerged) {
  std::vector<std::string> dbs = shard_dbs(3);
  // Shard 3 ran model.gguf from another file (another sha256) than the shard that ran its other configurations.
  std::string path;
  {
    Db db(dbs[0], false);
    Stmt st(db, "SELECT model_path FROM configurations LIMIT 1");
    ASSERT_TRUE(st.step());
    path = st.col_text(0);
  }
  {
    Db db(dbs[2], false);
    Stmt up(db, "UPDATE configurations SET model_path = ?, model_sha256 = 'abc' WHERE plan_index = "
                "(SELECT MIN(plan_index) FROM configurations)");
    up.bind(1, path).run();
  }
  std::string e = merge_error(dbs);
  EXPECT_NE(e.find("shard-3.db: configuration #"), std::string::npos) << e;
  EXPECT_NE(e.find("has model sha256 abc, "), std::string::npos) << e;
  EXPECT_NE(e.find("expected every shard to read the same files"), std::string::npos) << e;
}

TEST_F(MergeTest, RefusesInputsThatAreNotShardsAndAnOutThatIsNotAMerge) {
  std::vector<std::string> dbs = shard_dbs(2);
  ASSERT_EQ(run_suite(suite_path, options(dir / "whole.db"), fake_backend()).exit_code, 0);
  std::string e = merge_error({dbs[0], dir / "whole.db"});
  EXPECT_NE(e.find("whole.db: holds no sharded run; expected the --db of a `bench run --shard I/N`"), std::string::npos) << e;
  e = merge_error({dbs[0], dir / "nothing.db"});
  EXPECT_NE(e.find("nothing.db: no such database"), std::string::npos) << e;
  write_file(dir / "text.db", "not a database at all");
  e = merge_error({dbs[0], dir / "text.db"});
  EXPECT_NE(e.find("text.db: "), std::string::npos) << e;
  // OUT holding a run of its own (here: a copy of the unsharded database) is never replaced.
  fs::copy_file(dir / "whole.db", dir / "merged.db");
  const std::string before = read_bytes(dir / "merged.db");
  e = merge_error(dbs);
  EXPECT_NE(e.find("merged.db: holds 1 run(s) not made by `bench merge`"), std::string::npos) << e;
  EXPECT_EQ(read_bytes(dir / "merged.db"), before);
  // OUT given as an input.
  fs::remove(dir / "merged.db");
  fs::copy_file(dbs[0], dir / "merged.db");
  e = merge_error({dir / "merged.db", dbs[1]});
  EXPECT_NE(e.find("is also OUT"), std::string::npos) << e;
}

TEST_F(MergeTest, CopiesColumnsGenericallyFromInputsWithOtherSchemas) {
  std::vector<std::string> dbs = shard_dbs(2);
  // An input from a bench with an extra column (as a later schema adds): the merge copies the shared columns.
  {
    Db db(dbs[1], false);
    db.exec("ALTER TABLE configurations ADD COLUMN future_column TEXT DEFAULT 'x'; "
            "ALTER TABLE results ADD COLUMN extra REAL");
  }
  MergeOutcome m = merge(dbs);
  EXPECT_EQ(m.status, "complete");
  EXPECT_EQ(m.configurations, 18u);
}

TEST_F(MergeTest, AFailedShardIsResumedAloneThenMerged) {
  fs::remove(dir / "fixed");  // test-fail fails now
  std::vector<std::string> dbs;
  for (int i = 1; i <= 2; ++i) {
    dbs.push_back(dir / ("shard-" + std::to_string(i) + ".db"));
    run_shard(i, 2, dbs.back());
  }
  MergeOutcome failed = merge(dbs);
  EXPECT_EQ(failed.status, "failed");
  EXPECT_GT(failed.failed, 0u);
  EXPECT_EQ(failed.configurations, 18u);
  // Resume each shard alone: only its own failures run again.
  write_file(dir / "fixed", "");
  for (int i = 1; i <= 2; ++i) {
    RunOptions o = options(dbs[i - 1]);
    o.shard = ShardSpec{i, 2};
    o.resume = true;
    // A resumed shard reruns its own part as stored: costs (here a database that no longer exists) are not read.
    o.costs_from = dir / "gone.db";
    RunOutcome r = run_suite(suite_path, o, fake_backend());
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.run_id, 1);
    EXPECT_GT(r.planned, 0u);
    EXPECT_LT(r.planned, 9u) << "only the failed configurations";
  }
  MergeOutcome fixed = merge(dbs);
  EXPECT_EQ(fixed.status, "complete");
  EXPECT_EQ(fixed.complete, 18u);
  // Resuming a shard's database as another shard is refused.
  RunOptions o = options(dbs[0]);
  o.shard = ShardSpec{2, 2};
  o.resume = true;
  try {
    run_suite(suite_path, o, fake_backend());
    FAIL() << "resumed shard 1/2 as 2/2";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--resume: run 1 is shard 1/2, not 2/2"), std::string::npos) << e.what();
  }
  o.shard.reset();
  try {
    run_suite(suite_path, o, fake_backend());
    FAIL() << "resumed a shard without --shard";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("expected --shard 1/2"), std::string::npos) << e.what();
  }
}

TEST_F(MergeTest, SchemaVersion2DatabasesUpgradeToTheShardsSchema) {
  // A database written by the release before version 3 (tests/data/db/schema-v2.db, four configurations): the
  // migration adds the shard tables and leaves its run unsharded.
  std::filesystem::copy_file(std::filesystem::path(test::source_dir()) / "tests/data/db/schema-v2.db", dir / "old.db");
  Store s(dir / "old.db");
  EXPECT_EQ(schema_version(s.db()), kSchemaVersion);
  Stmt st(s.db(), "SELECT COUNT(*), COUNT(shard_id) FROM configurations");
  st.step();
  EXPECT_EQ(st.col_int(0), 4);
  EXPECT_EQ(st.col_int(1), 0);
  // A shard run can then be added to it.
  RunOptions o = options(dir / "old.db");
  o.shard = ShardSpec{1, 2};
  EXPECT_EQ(run_suite(suite_path, o, fake_backend()).exit_code, 0);
}

// Dry-run output of `--shard i/n` (with --costs-from when given).
std::string dry_run(const std::string& suite, const std::string& db, int i, int n, const std::string& costs_from) {
  RunOptions o;
  o.db_path = db;
  o.log = nullptr;
  o.data_root = db + ".data";
  o.dry_run = true;
  o.shard = ShardSpec{i, n};
  if (!costs_from.empty()) o.costs_from = costs_from;
  char* buf = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  o.plan_out = mem;
  run_suite(suite, o, fake_backend());
  std::fclose(mem);
  std::string out(buf, len);
  free(buf);
  return out;
}

TEST_F(MergeTest, CostsFromADatabaseBalanceByMeasuredWallTimes) {
  // The static estimate sees equal configurations (a task it does not know); the measured ones differ (0/60 ms).
  const std::string path = dir / "sleepy.json";
  write_file(path, R"({"name": "sleepy", "model": ["model.gguf", "other.gguf"], "tasks": [{"task": "test-sleep",
      "sweep": {"ms": [0, 60], "id": [1, 2]}}], "methods": [{"method": "fp16"}]})");
  ASSERT_EQ(run_suite(path, options(dir / "measured.db"), fake_backend()).exit_code, 0);
  std::string plain = dry_run(path, dir / "none.db", 1, 2, "");
  EXPECT_NE(plain.find("balanced by static estimate"), std::string::npos) << plain;
  EXPECT_NE(plain.find("estimated cost (units)"), std::string::npos) << plain;
  std::string measured = dry_run(path, dir / "none.db", 1, 2, dir / "measured.db");
  EXPECT_NE(measured.find("measured.db: 8 of 8 configurations measured"), std::string::npos) << measured;
  EXPECT_NE(measured.find("estimated cost (s)"), std::string::npos) << measured;
  EXPECT_FALSE(fs::exists(dir / "none.db"));
  // A database without this plan's measurements: the static estimate, said so.
  ASSERT_EQ(run_suite(suite_path, options(dir / "unrelated.db"), fake_backend()).exit_code, 0);
  std::string unrelated = dry_run(path, dir / "none.db", 1, 2, dir / "unrelated.db");
  EXPECT_NE(unrelated.find("holds no wall time of this plan"), std::string::npos) << unrelated;
  // A missing database is an error naming the option.
  try {
    dry_run(path, dir / "none.db", 1, 2, dir / "missing.db");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--costs-from: no results database at"), std::string::npos) << e.what();
  }
}

TEST_F(MergeTest, DryRunPrintsEveryPartAndTheChosenOne) {
  RunOptions o = options(dir / "none.db");
  o.dry_run = true;
  o.shard = ShardSpec{2, 3};
  char* buf = nullptr;
  size_t len = 0;
  FILE* mem = open_memstream(&buf, &len);
  o.plan_out = mem;
  RunOutcome out = run_suite(suite_path, o, fake_backend());
  std::fclose(mem);
  std::string plan(buf, len);
  free(buf);
  EXPECT_NE(plan.find("shards: 18 configurations in 3 parts, balanced by static estimate"), std::string::npos) << plan;
  EXPECT_NE(plan.find("this is shard 2/3"), std::string::npos) << plan;
  EXPECT_NE(plan.find(fmt::format("suite sweep ({}): {} of 18 configurations", suite_path, out.planned)), std::string::npos)
      << plan;
  EXPECT_GT(out.planned, 0u);
  EXPECT_LT(out.planned, 18u);
  EXPECT_FALSE(fs::exists(dir / "none.db"));
}

}  // namespace
}  // namespace bp
