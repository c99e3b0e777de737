// A results database written by the release before method stacks (schema version 2, tests/data/db/schema-v2.db)
// opens with today's bench, migrates, and lines up with a new run of the same configurations: the same comparison
// keys (the migrated ones are recomputed from the stack of one each row becomes) and the same accuracy values.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "harness/core/store.h"
#include "harness/core/store_schema.h"
#include "tests/cli/bench_process.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> keys_by_label(Store& s, int64_t run) {
  std::map<std::string, std::string> out;
  Stmt st(s.db(), "SELECT label, comparison_key FROM configurations WHERE run_id = ?");
  st.bind(1, run);
  while (st.step()) out[st.col_text(0)] = st.col_text(1);
  return out;
}

std::map<std::string, double> accuracy_by_label(Store& s, int64_t run) {
  std::map<std::string, double> out;
  Stmt st(s.db(), "SELECT c.label || ' ' || r.metric || ' ' || r.labels, r.value FROM results r JOIN configurations c "
                  "ON c.id = r.configuration_id WHERE c.run_id = ? AND r.metric IN ('acc', 'acc_norm', 'accuracy')");
  st.bind(1, run);
  while (st.step()) out[st.col_text(0)] = st.col_double(1);
  return out;
}

TEST(DbMigration, AVersion2DatabaseMigratesAndLinesUpWithANewRun) {
  BENCH_REQUIRE_MODEL(model);
  test::TempDir dir;
  const std::string db = dir / "old.db";
  fs::copy_file(fs::path(test::source_dir()) / "tests/data/db/schema-v2.db", db);
  {
    Db raw(db, false);
    ASSERT_EQ(schema_version(raw), 2) << "the fixture must stay a version-2 database";
  }
  const std::string suite = (fs::path(test::source_dir()) / "suites/smoke.json").string();
  auto r = test::run_bench({"run", suite, "--db", db, "--filter", "piqa|passkey", "--no-report"}, dir.path(), dir.path());
  ASSERT_EQ(r.code, 0) << r.err;

  Store s(db, false);
  EXPECT_EQ(schema_version(s.db()), kSchemaVersion);
  Stmt check(s.db(), "PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.col_text(0), "ok");
  const auto old_keys = keys_by_label(s, 1), new_keys = keys_by_label(s, 2);
  ASSERT_EQ(old_keys.size(), 4u);
  EXPECT_EQ(old_keys, new_keys);
  const auto old_acc = accuracy_by_label(s, 1), new_acc = accuracy_by_label(s, 2);
  EXPECT_FALSE(old_acc.empty());
  EXPECT_EQ(old_acc, new_acc);
  // The migrated rows are stacks of one, with one member row each.
  Stmt st(s.db(), "SELECT COUNT(*) FROM configurations c JOIN configuration_members m ON m.configuration_id = c.id "
                  "WHERE c.run_id = 1 AND m.position = 0 AND m.method = c.method AND c.stack LIKE '[{\"method\":%'");
  st.step();
  EXPECT_EQ(st.col_int(0), 4);
  // Migration 4 backfilled each metric's direction from the tasks' registrations, as a new run writes it.
  Stmt dir_old(s.db(), "SELECT DISTINCT r.metric, r.better FROM results r JOIN configurations c ON c.id = "
                       "r.configuration_id WHERE c.run_id = 1 ORDER BY 1");
  Stmt dir_new(s.db(), "SELECT DISTINCT r.metric, r.better FROM results r JOIN configurations c ON c.id = "
                       "r.configuration_id WHERE c.run_id = 2 ORDER BY 1");
  std::vector<std::pair<std::string, std::string>> a, b;
  while (dir_old.step()) a.emplace_back(dir_old.col_text(0), dir_old.col_text(1));
  while (dir_new.step()) b.emplace_back(dir_new.col_text(0), dir_new.col_text(1));
  EXPECT_EQ(a, b);
  EXPECT_NE(std::find(a.begin(), a.end(), std::make_pair(std::string("acc"), std::string("higher"))), a.end());
}

}  // namespace
}  // namespace bp
