#include "harness/core/store_schema.h"

#include <string>

#include <nlohmann/json.hpp>

#include "harness/core/file_hash.h"
#include "harness/core/identity.h"
#include "harness/core/task.h"

namespace bp {

namespace {

using json = nlohmann::json;

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

// Version 3: a configuration's methods are a stack (weights, tokens, kv-cache members). `stack` holds the canonical
// stack the identity is computed from, `configuration_members` one row per member for queries by role; `error_kind`
// says what kind of failure a failed configuration had (NULL for failures recorded before version 3). Rows of
// earlier versions were single methods: each becomes a stack of one, and its comparison key and identity are
// recomputed with the version-2 key (which hashes the stack), so that they line up with new rows.
// Also in version 3, for sharded sweeps (bench run --shard, bench merge): where each configuration was measured. A
// shard's own database holds one `shards` row per sharded run (its part i of N and the whole plan being sharded); `bench merge` copies each input's row
// into the merged database with the input's provenance, and points every merged configuration at it. With
// --allow-partial, `merge_gaps` lists the planned configurations no input held.
const char* kMigration3 = R"SQL(
ALTER TABLE configurations ADD COLUMN stack TEXT;
ALTER TABLE configurations ADD COLUMN error_kind TEXT
  CHECK (error_kind IS NULL OR error_kind IN ('input', 'out-of-memory', 'internal', 'runtime'));
UPDATE configurations SET method_kind = CASE method_kind WHEN 'weight' THEN 'weights'
                                                         WHEN 'attention/token' THEN 'tokens' ELSE method_kind END;
UPDATE configurations SET stack = bp_stack_of_one(method, params);
UPDATE configurations SET comparison_key = bp_comparison_key_v2(model_sha256, model_storage, stack, task, protocol,
                                                                protocol_version, protocol_params, dataset_files);
UPDATE configurations SET identity = bp_identity(comparison_key, build_id);
CREATE TABLE configuration_members (
  configuration_id INTEGER NOT NULL REFERENCES configurations (id) ON DELETE CASCADE,
  position         INTEGER NOT NULL,
  roles            TEXT NOT NULL,
  method           TEXT NOT NULL,
  params           TEXT NOT NULL,
  PRIMARY KEY (configuration_id, position)
);
INSERT INTO configuration_members (configuration_id, position, roles, method, params)
  SELECT id, 0, method_kind, method, params FROM configurations;
CREATE INDEX configuration_members_by_method ON configuration_members (method, roles);
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

// Version 4: which way each metric is better ("lower", "higher" or "none"), stored with every value as the task's
// registration declares it (TaskInfo::metrics), so that readers (bench compare, the report) take the direction from
// the data rather than from a list of their own. Rows of earlier versions are backfilled from the registrations of
// the binary that migrates them (NULL for a task or metric it no longer knows).
const char* kMigration4 = R"SQL(
ALTER TABLE results ADD COLUMN better TEXT CHECK (better IS NULL OR better IN ('lower', 'higher', 'none'));
UPDATE results SET better = bp_metric_better(
  (SELECT task FROM configurations c WHERE c.id = results.configuration_id), metric);
)SQL";

const char* const kMigrations[] = {kMigration1, kMigration2, kMigration3, kMigration4};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

std::string text_arg(sqlite3_value* v) {
  const unsigned char* p = sqlite3_value_text(v);
  return p ? std::string(reinterpret_cast<const char*>(p), (size_t)sqlite3_value_bytes(v)) : std::string();
}

void result_text(sqlite3_context* ctx, const std::string& s) {
  sqlite3_result_text(ctx, s.c_str(), (int)s.size(), SQLITE_TRANSIENT);
}

// The version-1 comparison key (one method and its parameters), which migration 2 backfilled. Kept only for that
// migration: migration 3 replaces every key with the version-2 one.
void sql_comparison_key_v1(sqlite3_context* ctx, int, sqlite3_value** argv) {
  std::string s = "benchpress-config-v1";
  for (int i = 0; i < 9; ++i)
    s += "\n" + (i == 6 ? std::to_string(sqlite3_value_int64(argv[i])) : text_arg(argv[i]));
  result_text(ctx, sha256_text(s));
}

void sql_comparison_key_v2(sqlite3_context* ctx, int, sqlite3_value** argv) {
  IdentityFields f;
  f.model_sha256 = text_arg(argv[0]);
  f.model_storage = text_arg(argv[1]);
  f.stack = text_arg(argv[2]);
  f.task = text_arg(argv[3]);
  f.protocol = text_arg(argv[4]);
  f.protocol_version = sqlite3_value_int64(argv[5]);
  f.protocol_params = text_arg(argv[6]);
  f.dataset_files = text_arg(argv[7]);
  result_text(ctx, comparison_key(f));
}

void sql_identity(sqlite3_context* ctx, int, sqlite3_value** argv) {
  result_text(ctx, identity_hash(text_arg(argv[0]), text_arg(argv[1])));
}

// The canonical stack of one method, as the runner writes it (MethodVariant::canonical): the stored parameters are
// already canonical JSON, re-serialized by the same library so the text matches byte for byte.
void sql_stack_of_one(sqlite3_context* ctx, int, sqlite3_value** argv) {
  json params = json::parse(text_arg(argv[1]), nullptr, false);
  if (params.is_discarded()) {
    sqlite3_result_error(ctx, "bp_stack_of_one: stored parameters are not JSON", -1);
    return;
  }
  result_text(ctx, json::array({json{{"method", text_arg(argv[0])}, {"params", params}}}).dump());
}

// The direction a registered task declares for one of its metrics, or NULL.
void sql_metric_better(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const TaskInfo* t = TaskRegistry::find(text_arg(argv[0]));
  const std::string metric = text_arg(argv[1]);
  if (t)
    for (const MetricSpec& m : t->metrics)
      if (m.name == metric) return result_text(ctx, better_name(m.better));
  sqlite3_result_null(ctx);
}

void register_function(Db& db, const char* name, int n_args, void (*fn)(sqlite3_context*, int, sqlite3_value**)) {
  int rc = sqlite3_create_function_v2(db.handle(), name, n_args, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, fn,
                                      nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw SqliteError(rc, std::string("SQLite: cannot register ") + name);
}

}  // namespace

void register_sql_functions(Db& db) {
  register_function(db, "bp_comparison_key", 9, sql_comparison_key_v1);
  register_function(db, "bp_comparison_key_v2", 8, sql_comparison_key_v2);
  register_function(db, "bp_identity", 2, sql_identity);
  register_function(db, "bp_stack_of_one", 2, sql_stack_of_one);
  register_function(db, "bp_metric_better", 2, sql_metric_better);
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
