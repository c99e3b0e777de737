// The SQLite store: round trip, one-transaction semantics, migration from version 1, concurrent writers.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/common/error.h"
#include "harness/core/identity.h"
#include "harness/core/store.h"
#include "harness/core/store_schema.h"
#include "tests/core/temp_dir.h"

namespace bp {
namespace {

NewRun sample_run() {
  NewRun r;
  r.suite_name = "unit";
  r.suite_path = "suites/unit.json";
  r.suite_sha256 = std::string(64, 'a');
  r.suite_text = "{}";
  r.provenance.git_commit = "abc";
  r.provenance.git_dirty = true;
  r.provenance.build_id = "build-1";
  r.provenance.bench_version = "0.0.0";
  r.provenance.cpu_cores = 2;
  r.threads = 2;
  r.seed = 5;
  return r;
}

NewConfiguration sample_config(int index) {
  NewConfiguration c;
  c.plan_index = index;
  c.label = "t / m" + std::to_string(index);
  c.method = "m";
  c.method_kind = "kv-cache";
  c.params = R"({"bits":)" + std::to_string(index) + "}";
  c.model_path = "/m.gguf";
  c.model_sha256 = std::string(64, 'b');
  c.model_storage = "f32";
  c.task = "t";
  c.task_options = "{}";
  c.dataset_files = "[]";
  c.protocol = "p";
  c.protocol_version = 2;
  c.protocol_params = R"({"seed":5})";
  c.build_id = "build-1";
  c.stack = R"([{"method":"m","params":)" + c.params + "}]";
  c.members.push_back(NewMember{"kv-cache", "m", c.params});
  c.comparison_key = comparison_key(IdentityFields{c.model_sha256, c.model_storage, c.stack, c.task, c.protocol,
                                                   c.protocol_version, c.protocol_params, c.dataset_files});
  c.identity = identity_hash(c.comparison_key, c.build_id);
  return c;
}

ConfigurationResults sample_results() {
  ConfigurationResults r;
  r.metrics.push_back({"ppl", json::object(), 12.5, "", 0});
  for (int rep = 0; rep < 4; ++rep) r.metrics.push_back({"decode", {{"context", 512}}, 10.0 + rep, "ms", rep});
  r.items.push_back({"q1", 1.0, {{"answer", "A"}}});
  r.items.push_back({"q2", 0.0, json::object()});
  return r;
}

std::string integrity(Db& db) {
  Stmt st(db, "PRAGMA integrity_check");
  st.step();
  return st.col_text(0);
}

TEST(Store, RoundTripsRunsConfigurationsResultsSummariesAndItems) {
  test::TempDir dir;
  Store store(dir / "r.db");
  int64_t run = store.begin_run(sample_run(), {sample_config(0), sample_config(1)});
  auto configs = store.configurations(run);
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[0].status, "pending");
  store.start_configuration(configs[0].id);
  store.complete_configuration(configs[0].id, sample_results(), 1.5);
  store.start_configuration(configs[1].id);
  store.fail_configuration(configs[1].id, "boom", "runtime", 0.25);
  EXPECT_EQ(store.finish_run(run), "failed");

  json doc = store.load_run(run);
  EXPECT_EQ(doc["run"]["suite_name"], "unit");
  EXPECT_EQ(doc["run"]["git_dirty"], 1);
  EXPECT_EQ(doc["run"]["status"], "failed");
  EXPECT_FALSE(doc["run"]["ended_at"].is_null());
  const json& c0 = doc["configurations"][0];
  EXPECT_EQ(c0["status"], "complete");
  EXPECT_EQ(c0["params"], json::parse(R"({"bits":0})"));
  EXPECT_EQ(c0["exec_order"], 1);
  EXPECT_DOUBLE_EQ(c0["wall_s"].get<double>(), 1.5);
  EXPECT_EQ(c0["comparison_key"], sample_config(0).comparison_key);
  ASSERT_EQ(c0["results"].size(), 5u);
  EXPECT_EQ(c0["results"][0]["metric"], "ppl");
  EXPECT_EQ(c0["results"][0]["protocol"], "p");
  EXPECT_EQ(c0["results"][0]["protocol_version"], 2);
  EXPECT_EQ(c0["results"][3]["labels"], json::parse(R"({"context":512})"));
  EXPECT_EQ(c0["results"][3]["repetition"], 2);
  ASSERT_EQ(c0["summaries"].size(), 1u);  // only the repeated metric has a summary
  const json& s = c0["summaries"][0];
  EXPECT_EQ(s["metric"], "decode");
  EXPECT_EQ(s["n"], 4);
  EXPECT_DOUBLE_EQ(s["median"].get<double>(), 11.5);
  EXPECT_DOUBLE_EQ(s["min"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(s["max"].get<double>(), 13);
  EXPECT_NEAR(s["p90"].get<double>(), 12.7, 1e-12);
  ASSERT_EQ(c0["items"].size(), 2u);
  EXPECT_EQ(c0["items"][0]["detail"]["answer"], "A");
  const json& c1 = doc["configurations"][1];
  EXPECT_EQ(c1["status"], "failed");
  EXPECT_EQ(c1["error"], "boom");
  EXPECT_EQ(c1["error_kind"], "runtime");
  EXPECT_EQ(c1["exec_order"], 2);
  EXPECT_TRUE(c1["results"].empty());

  json runs = store.list_runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["complete"], 1);
  EXPECT_EQ(runs[0]["failed"], 1);
  EXPECT_EQ(integrity(store.db()), "ok");
}

TEST(Store, CompletingAgainReplacesAndFailingClears) {
  test::TempDir dir;
  Store store(dir / "r.db");
  int64_t run = store.begin_run(sample_run(), {sample_config(0)});
  int64_t id = store.configurations(run)[0].id;
  store.complete_configuration(id, sample_results(), 1);
  ConfigurationResults second;
  second.metrics.push_back({"ppl", json::object(), 9.0, "", 0});
  store.complete_configuration(id, second, 1);
  json c = store.load_run(run)["configurations"][0];
  ASSERT_EQ(c["results"].size(), 1u);
  EXPECT_DOUBLE_EQ(c["results"][0]["value"].get<double>(), 9.0);
  EXPECT_TRUE(c["summaries"].empty());
  EXPECT_TRUE(c["items"].empty());
  store.fail_configuration(id, "later failure", "internal", 1);
  c = store.load_run(run)["configurations"][0];
  EXPECT_TRUE(c["results"].empty());
  EXPECT_EQ(c["error"], "later failure");
  EXPECT_EQ(store.finish_run(run), "failed");
}

TEST(Store, AResultThatCannotBeStoredLeavesNothingBehind) {
  test::TempDir dir;
  Store store(dir / "r.db");
  int64_t run = store.begin_run(sample_run(), {sample_config(0)});
  int64_t id = store.configurations(run)[0].id;
  ConfigurationResults bad = sample_results();
  bad.items.push_back(bad.items[0]);  // a duplicate item key violates the primary key halfway through
  EXPECT_THROW(store.complete_configuration(id, bad, 1), SqliteError);
  json c = store.load_run(run)["configurations"][0];
  EXPECT_EQ(c["status"], "pending");
  EXPECT_TRUE(c["results"].empty());
  EXPECT_TRUE(c["items"].empty());
}

TEST(Store, UsesWalForeignKeysAndTheCurrentSchemaVersion) {
  test::TempDir dir;
  Store store(dir / "r.db");
  Stmt mode(store.db(), "PRAGMA journal_mode");
  mode.step();
  EXPECT_EQ(mode.col_text(0), "wal");
  Stmt fk(store.db(), "PRAGMA foreign_keys");
  fk.step();
  EXPECT_EQ(fk.col_int(0), 1);
  EXPECT_EQ(schema_version(store.db()), kSchemaVersion);
  // Foreign keys are enforced: a result for a configuration that does not exist is refused.
  EXPECT_THROW(store.db().exec("INSERT INTO results (configuration_id, metric, labels, value, unit, repetition, protocol, "
                               "protocol_version) VALUES (999, 'x', '{}', 1, '', 0, 'p', 1)"),
               SqliteError);
}

TEST(Store, MigratesAVersion1DatabaseKeepingItsData) {
  test::TempDir dir;
  const std::string path = dir / "old.db";
  NewConfiguration c = sample_config(3);
  {
    Db db(path, true);
    register_sql_functions(db);
    db.write_transaction([&] { apply_migrations(db, 0, 1); });
    ASSERT_EQ(schema_version(db), 1);
    db.exec(R"SQL(INSERT INTO runs (id, suite_name, suite_path, suite_sha256, suite_text, started_at, status, build_id,
                  bench_version, threads, seed, device) VALUES (7, 'old', 'old.json', 'x', '{}', '2026-01-01T00:00:00.000Z',
                  'complete', 'build-1', '0.0.1', 1, 0, 'cpu'))SQL");
    Stmt ins(db, R"SQL(INSERT INTO configurations (run_id, plan_index, label, method, method_kind, params, model_path,
                 model_sha256, model_storage, task, task_options, dataset_files, protocol, protocol_version,
                 protocol_params, build_id, identity, status) VALUES (7, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'complete'))SQL");
    ins.bind_all(c.label, c.method, c.method_kind, c.params, c.model_path, c.model_sha256, c.model_storage, c.task,
                 c.task_options, c.dataset_files, c.protocol, c.protocol_version, c.protocol_params, c.build_id, c.identity)
        .run();
    db.exec("INSERT INTO results (configuration_id, metric, labels, value, unit, repetition, protocol, protocol_version) "
            "VALUES (1, 'ppl', '{}', 11.25, '', 0, 'p', 2)");
    Stmt no_key(db, "SELECT COUNT(*) FROM pragma_table_info('configurations') WHERE name = 'comparison_key'");
    no_key.step();
    ASSERT_EQ(no_key.col_int(0), 0);
  }
  Store store(path);  // upgrades
  EXPECT_EQ(schema_version(store.db()), kSchemaVersion);
  json doc = store.load_run(7);
  EXPECT_EQ(doc["run"]["suite_name"], "old");
  const json& cfg = doc["configurations"][0];
  // The single method became a stack of one, and the key and identity are the ones the runner computes for the
  // same fields today.
  EXPECT_EQ(cfg["stack"], json::parse(c.stack));
  EXPECT_EQ(cfg["identity"], c.identity);
  EXPECT_EQ(cfg["comparison_key"], c.comparison_key);
  EXPECT_TRUE(cfg["error_kind"].is_null());
  Stmt members(store.db(), "SELECT roles, method, params FROM configuration_members WHERE configuration_id = 1");
  ASSERT_TRUE(members.step());
  EXPECT_EQ(members.col_text(0) + " " + members.col_text(1) + " " + members.col_text(2), "kv-cache m " + c.params);
  EXPECT_DOUBLE_EQ(cfg["results"][0]["value"].get<double>(), 11.25);
  EXPECT_EQ(integrity(store.db()), "ok");
  // New writes work on the upgraded database.
  int64_t run = store.begin_run(sample_run(), {sample_config(0)});
  EXPECT_GT(run, 7);
}

TEST(Store, RefusesADatabaseFromANewerVersion) {
  test::TempDir dir;
  { Store s(dir / "new.db"); s.db().exec("PRAGMA user_version = 99"); }
  try {
    Store s(dir / "new.db");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), dir / "new.db" + ": database schema version 99 is newer than this bench supports (" +
                                      std::to_string(kSchemaVersion) + "); expected a database written by this or an older version");
  }
}

TEST(Store, MissingDatabaseIsAnInputErrorWhenNotCreating) {
  test::TempDir dir;
  EXPECT_THROW(Store(dir / "none.db", false), InputError);
  EXPECT_FALSE(std::filesystem::exists(dir / "none.db"));
}

// Two processes write one database at the same time, each its own run with many small transactions.
TEST(Store, ConcurrentWritersBothSucceed) {
  test::TempDir dir;
  const std::string path = dir / "shared.db";
  constexpr int kConfigs = 40;
  pid_t pids[2];
  for (int w = 0; w < 2; ++w) {
    pids[w] = fork();
    ASSERT_GE(pids[w], 0);
    if (pids[w] == 0) {
      int code = 0;
      try {
        Store store(path);
        std::vector<NewConfiguration> cs;
        for (int i = 0; i < kConfigs; ++i) cs.push_back(sample_config(i));
        int64_t run = store.begin_run(sample_run(), cs);
        for (const auto& c : store.configurations(run)) {
          store.start_configuration(c.id);
          store.complete_configuration(c.id, sample_results(), 0.01);
        }
        code = store.finish_run(run) == "complete" ? 0 : 3;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        code = 4;
      }
      _exit(code);
    }
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  Store store(path);
  json runs = store.list_runs();
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& r : runs) {
    EXPECT_EQ(r["status"], "complete");
    EXPECT_EQ(r["complete"], kConfigs);
  }
  Stmt n(store.db(), "SELECT COUNT(*) FROM results");
  n.step();
  EXPECT_EQ(n.col_int(0), 2 * kConfigs * 5);
  EXPECT_EQ(integrity(store.db()), "ok");
}

}  // namespace
}  // namespace bp
