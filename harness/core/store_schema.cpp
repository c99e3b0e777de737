#include "harness/core/store_schema.h"

#include <string>

#include "harness/core/identity.h"

namespace bp {

namespace {

// Version 1: runs, their planned configurations, results, summaries of repeated metrics, per-item results.
const char* kMigration1 = R"SQL(
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  suite_name    TEXT NOT NULL,
  suite_path    TEXT NOT NULL,
  suite_sha256  TEXT NOT NULL,
  suite_text    TEXT NOT NULL,
  started_at    TEXT NOT NULL,
  ended_at      TEXT,
  status        TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
  git_commit    TEXT,
  git_dirty     INTEGER,
  compiler      TEXT,
  build_type    TEXT,
  build_flags   TEXT,
  build_id      TEXT NOT NULL,
  bench_version TEXT NOT NULL,
  cpu_model     TEXT,
  cpu_cores     INTEGER,
  gpu_model     TEXT,
  gpu_driver    TEXT,
  cuda_version  TEXT,
  os            TEXT,
  host          TEXT,
  pid           INTEGER,
  threads       INTEGER NOT NULL,
  seed          INTEGER NOT NULL,
  device        TEXT NOT NULL,
  data_root     TEXT,
  command_line  TEXT
);
CREATE INDEX runs_by_suite ON runs (suite_sha256, id);

CREATE TABLE configurations (
  id               INTEGER PRIMARY KEY,
  run_id           INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  plan_index       INTEGER NOT NULL,
  label            TEXT NOT NULL,
  method           TEXT NOT NULL,
  method_kind      TEXT NOT NULL,
  params           TEXT NOT NULL,
  model_name       TEXT,
  model_path       TEXT NOT NULL,
  model_sha256     TEXT NOT NULL,
  model_storage    TEXT NOT NULL,
  task             TEXT NOT NULL,
  task_options     TEXT NOT NULL,
  dataset_files    TEXT NOT NULL,
  protocol         TEXT NOT NULL,
  protocol_version INTEGER NOT NULL,
  protocol_params  TEXT NOT NULL,
  build_id         TEXT NOT NULL,
  identity         TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'running', 'complete', 'failed')),
  error            TEXT,
  exec_order       INTEGER,
  started_at       TEXT,
  ended_at         TEXT,
  wall_s           REAL,
  UNIQUE (run_id, identity),
  UNIQUE (run_id, plan_index)
);

CREATE TABLE results (
  id               INTEGER PRIMARY KEY,
  configuration_id INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
  metric           TEXT NOT NULL,
  labels           TEXT NOT NULL,
  value            REAL NOT NULL,
  unit             TEXT NOT NULL,
  repetition       INTEGER NOT NULL,
  protocol         TEXT NOT NULL,
  protocol_version INTEGER NOT NULL,
  UNIQUE (configuration_id, metric, labels, repetition)
);

CREATE TABLE summaries (
  configuration_id INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
  metric           TEXT NOT NULL,
  labels           TEXT NOT NULL,
  unit             TEXT NOT NULL,
  n                INTEGER NOT NULL,
  median           REAL NOT NULL,
  min              REAL NOT NULL,
  max              REAL NOT NULL,
  p90              REAL NOT NULL,
  mean             REAL NOT NULL,
  stddev           REAL NOT NULL,
  cv               REAL,
  PRIMARY KEY (configuration_id, metric, labels)
);

CREATE TABLE items (
  configuration_id INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
  key              TEXT NOT NULL,
  score            REAL NOT NULL,
  detail           TEXT NOT NULL,
  PRIMARY KEY (configuration_id, key)
);
)SQL";

// Version 2: the comparison key (identity without the build), so that `bench compare` can line up the same
// measurement across builds; rows written by version 1 are backfilled with the same hash the runner computes.
const char* kMigration2 = R"SQL(
ALTER TABLE configurations ADD COLUMN comparison_key TEXT;
UPDATE configurations SET comparison_key = bp_comparison_key(model_sha256, model_storage, method, params, task,
                                                             protocol, protocol_version, protocol_params, dataset_files);
CREATE INDEX configurations_by_comparison_key ON configurations (comparison_key);
)SQL";

// ---- shards (bench run --shard, bench merge) ------------------------------------------------------------------
// One self-contained migration, appended last so that it can be renumbered when merged with other schema work.
// Version 3: where each configuration of a sharded sweep was measured. A shard's own database holds one `shards`
// row per sharded run (its part i of N and the whole plan being sharded); `bench merge` copies each input's row
// into the merged database with the input's provenance, and points every merged configuration at it. With
// --allow-partial, `merge_gaps` lists the planned configurations no input held.
const char* kMigration3 = R"SQL(
CREATE TABLE shards (
  id            INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  shard_index   INTEGER NOT NULL,
  shard_count   INTEGER NOT NULL,
  plan          TEXT NOT NULL,
  cost_source   TEXT,
  source_path   TEXT,
  source_run_id INTEGER,
  host          TEXT,
  cpu_model     TEXT,
  cpu_cores     INTEGER,
  gpu_model     TEXT,
  gpu_driver    TEXT,
  cuda_version  TEXT,
  git_commit    TEXT,
  git_dirty     INTEGER,
  build_id      TEXT,
  bench_version TEXT,
  started_at    TEXT,
  ended_at      TEXT,
  UNIQUE (run_id, shard_index)
);
ALTER TABLE configurations ADD COLUMN shard_id INTEGER REFERENCES shards (id);
CREATE TABLE merge_gaps (
  run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  plan_index  INTEGER NOT NULL,
  label       TEXT NOT NULL,
  reason      TEXT NOT NULL,
  PRIMARY KEY (run_id, plan_index)
);
)SQL";
// ---- end of shards --------------------------------------------------------------------------------------------

const char* const kMigrations[] = {kMigration1, kMigration2, kMigration3};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

std::string text_arg(sqlite3_value* v) {
  const unsigned char* p = sqlite3_value_text(v);
  return p ? std::string(reinterpret_cast<const char*>(p), (size_t)sqlite3_value_bytes(v)) : std::string();
}

void sql_comparison_key(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  IdentityFields f;
  f.model_sha256 = text_arg(argv[0]);
  f.model_storage = text_arg(argv[1]);
  f.method = text_arg(argv[2]);
  f.params = text_arg(argv[3]);
  f.task = text_arg(argv[4]);
  f.protocol = text_arg(argv[5]);
  f.protocol_version = sqlite3_value_int64(argv[6]);
  f.protocol_params = text_arg(argv[7]);
  f.dataset_files = text_arg(argv[8]);
  std::string key = comparison_key(f);
  sqlite3_result_text(ctx, key.c_str(), (int)key.size(), SQLITE_TRANSIENT);
}

}  // namespace

void register_sql_functions(Db& db) {
  int rc = sqlite3_create_function_v2(db.handle(), "bp_comparison_key", 9, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                      sql_comparison_key, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw SqliteError(rc, "SQLite: cannot register bp_comparison_key");
}

int schema_version(const Db& db) {
  Stmt st(db, "PRAGMA user_version");
  st.step();
  return (int)st.col_int(0);
}

void apply_migrations(Db& db, int from, int to) {
  for (int v = from + 1; v <= to; ++v) db.exec(kMigrations[v - 1]);
  db.exec("PRAGMA user_version = " + std::to_string(to));
}

}  // namespace bp
