#pragma once
// The results database schema, as an ordered list of migrations. PRAGMA user_version holds the version a database
// is at; opening a database applies the missing migrations in one transaction. A migration, once released, is
// never edited: a schema change is a new migration appended here (and a test that upgrades from the version
// before it). results/README.md documents the resulting schema.
#include "harness/core/sqlite.h"

namespace bp {

inline constexpr int kSchemaVersion = 4;

// Applies migrations from+1 .. to (1 <= to <= kSchemaVersion) and sets user_version = to. Must run inside a write
// transaction. The SQL functions below must be registered on the connection (register_sql_functions).
void apply_migrations(Db& db, int from, int to);

// SQL functions BenchPress's migrations use: bp_comparison_key_v2(model_sha256, model_storage, stack, task, protocol,
// protocol_version, protocol_params, dataset_files) and bp_identity(comparison_key, build_id) — the hashes the
// runner computes (identity.h); bp_stack_of_one(method, params), the canonical stack of a single method; and
// bp_comparison_key, the version-1 key that migration 2 wrote; bp_metric_better(task, metric), the direction the
// task's registration declares (NULL when unknown).
void register_sql_functions(Db& db);

int schema_version(const Db& db);

}  // namespace bp
