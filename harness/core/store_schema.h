#pragma once
// The results database schema, as an ordered list of migrations. PRAGMA user_version holds the version a database
// is at; opening a database applies the missing migrations in one transaction. A migration, once released, is
// never edited: a schema change is a new migration appended here (and a test that upgrades from the version
// before it). results/README.md documents the resulting schema.
#include "harness/core/sqlite.h"

namespace bp {

inline constexpr int kSchemaVersion = 3;  // 3: shards (store_schema.cpp)

// Applies migrations from+1 .. to (1 <= to <= kSchemaVersion) and sets user_version = to. Must run inside a write
// transaction. The SQL function bp_comparison_key must be registered on the connection (register_sql_functions).
void apply_migrations(Db& db, int from, int to);

// SQL functions BenchPress's migrations and queries use: bp_comparison_key(model_sha256, model_storage, method,
// params, task, protocol, protocol_version, protocol_params, dataset_files) — the same hash the runner computes.
void register_sql_functions(Db& db);

int schema_version(const Db& db);

}  // namespace bp
