#pragma once
// The SQLite results store (schema: store_schema.cpp, documented in results/README.md). Writes follow the rules
// that keep a database whole whatever happens to the writer:
//   - a run and all its planned configurations ('pending') are inserted in one transaction;
//   - each configuration's results, summaries and items are committed in one transaction together with its
//     'complete' status, so a configuration is either complete with all its results or has none;
//   - WAL journaling + synchronous=FULL: a kill -9 at any instant leaves a database passing integrity_check;
//   - a busy timeout and retried BEGIN IMMEDIATE let several `bench run` processes share one database.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/core/provenance.h"
#include "harness/core/results.h"
#include "harness/core/sqlite.h"

namespace bp {

struct NewRun {
  std::string suite_name, suite_path, suite_sha256, suite_text;
  Provenance provenance;
  int threads = 1;
  uint64_t seed = 0;
  std::string device = "cpu";
  std::string data_root;
  std::string command_line;
};

// One member of a configuration's method stack (table configuration_members).
struct NewMember {
  std::string roles;   // "kv-cache", "weights", ...
  std::string method;
  std::string params;  // canonical JSON text
};

struct NewConfiguration {
  int64_t plan_index = 0;
  std::string label;
  // method: the members' names joined by '+'; method_kind: the roles they fill; params: a single member's
  // parameters, or {member name: parameters} for a longer stack; stack: the canonical stack (identity.h).
  std::string method, method_kind, params, stack;
  std::vector<NewMember> members;           // in role order
  std::string model_name, model_path, model_sha256, model_storage;
  std::string task, task_options;           // canonical JSON text
  std::string dataset_files;                // JSON text: [{"path", "sha256"}]
  std::string protocol;
  int64_t protocol_version = 0;
  std::string protocol_params;              // canonical JSON text
  std::string build_id, identity, comparison_key;
};

struct StoredConfiguration {
  int64_t id = 0;
  int64_t plan_index = 0;
  std::string label, identity, status, error;
};

struct StoredRun {
  int64_t id = 0;
  std::string suite_name, suite_sha256, status, build_id;
};

// Current time, UTC, ISO 8601 with milliseconds ("2026-11-23T13:44:15.123Z").
std::string utc_now();

class Store {
 public:
  // Opens (creating when `create`) and brings the schema up to date. A database from a newer bench is refused.
  // Without `create`, a missing file is an InputError naming the path.
  explicit Store(const std::string& path, bool create = true);

  Db& db() { return db_; }

  // ---- writing ------------------------------------------------------------------------------------------------
  // Inserts the run ('running') and its configurations ('pending'), in one transaction. Returns the run id.
  int64_t begin_run(const NewRun& run, const std::vector<NewConfiguration>& configs);
  // The latest run of the suite with this sha256, if any.
  std::optional<StoredRun> latest_run_of_suite(const std::string& suite_sha256);
  std::optional<StoredRun> find_run(int64_t run_id);
  // Whether the run is 'running' in a process that is alive on this host (not an interrupted run).
  bool run_is_live(int64_t run_id);
  // Marks a run as running again (resume), by this process.
  void reopen_run(int64_t run_id);
  std::vector<StoredConfiguration> configurations(int64_t run_id);
  // 'running', with its start time and the next execution order number of its run.
  void start_configuration(int64_t config_id);
  // Replaces whatever the configuration held (a resumed configuration may hold an old failure) with these
  // results, their summaries (every (metric, labels) with more than one repetition) and items, and 'complete'.
  void complete_configuration(int64_t config_id, const ConfigurationResults& results, double wall_s);
  // `kind`: failure_kind_name() of the failure (failure.h).
  void fail_configuration(int64_t config_id, const std::string& error, const std::string& kind, double wall_s);
  // Sets the run's end time and status: 'complete' when every configuration is complete, else 'failed'.
  // Returns the status.
  std::string finish_run(int64_t run_id);

  // ---- reading (as JSON documents, for show/export/list and the report generator's schema) ------------------
  // Every run, newest first, with counts of configurations by status.
  json list_runs();
  // {"run": {...}, "configurations": [{..., "results": [...], "summaries": [...], "items": [...]}]}, configurations
  // in plan order; JSON-valued columns are parsed. Throws InputError when the run does not exist.
  json load_run(int64_t run_id, bool with_items = true);

 private:
  void migrate();
  Db db_;
};

}  // namespace bp
