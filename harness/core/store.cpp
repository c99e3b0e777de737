#include "harness/core/store.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "harness/common/error.h"
#include "harness/core/stats.h"
#include "harness/core/store_schema.h"

namespace bp {

namespace {

const std::string& existing_or_creatable(const std::string& path, bool create) {
  if (!create && !std::filesystem::exists(path))
    throw InputError(path, "", "no results database here; expected the --db of an earlier `bench run`");
  return path;
}

std::string host_name() {
  char host[256] = {0};
  return gethostname(host, sizeof host - 1) == 0 ? host : "unknown";
}

// A run marked 'running' whose process is gone (on this host) was interrupted. Other hosts cannot be asked: their
// runs count as live.
bool live(const json& status, const json& host, const json& pid) {
  if (status != "running") return false;
  if (host != host_name() || !pid.is_number_integer()) return true;
  return !(kill((pid_t)pid.get<long long>(), 0) != 0 && errno == ESRCH);
}

// JSON-valued text columns, parsed when rows are read back.
bool is_json_column(const std::string& name) {
  return name == "params" || name == "task_options" || name == "dataset_files" || name == "protocol_params" ||
         name == "labels" || name == "detail" || name == "stack";
}

json row_to_json(sqlite3_stmt* st) {
  json row = json::object();
  for (int i = 0, n = sqlite3_column_count(st); i < n; ++i) {
    std::string name = sqlite3_column_name(st, i);
    switch (sqlite3_column_type(st, i)) {
      case SQLITE_INTEGER: row[name] = (long long)sqlite3_column_int64(st, i); break;
      case SQLITE_FLOAT: row[name] = sqlite3_column_double(st, i); break;
      case SQLITE_NULL: row[name] = nullptr; break;
      default: {
        std::string text(reinterpret_cast<const char*>(sqlite3_column_text(st, i)), (size_t)sqlite3_column_bytes(st, i));
        json parsed = is_json_column(name) ? json::parse(text, nullptr, false) : json();
        row[name] = parsed.is_discarded() || !is_json_column(name) ? json(text) : std::move(parsed);
      }
    }
  }
  return row;
}

json query_rows(Db& db, const std::string& sql, int64_t arg) {
  sqlite3_stmt* raw = nullptr;
  if (int rc = sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &raw, nullptr); rc != SQLITE_OK)
    throw SqliteError(rc, std::string("SQLite: ") + sqlite3_errmsg(db.handle()));
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> st(raw, &sqlite3_finalize);
  if (sql.find('?') != std::string::npos) sqlite3_bind_int64(raw, 1, arg);
  json rows = json::array();
  for (;;) {
    int rc = sqlite3_step(raw);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) throw SqliteError(rc, std::string("SQLite: ") + sqlite3_errmsg(db.handle()));
    rows.push_back(row_to_json(raw));
  }
  return rows;
}

}  // namespace

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, (int)ms);
}

Store::Store(const std::string& path, bool create) : db_(existing_or_creatable(path, create), create) {
  register_sql_functions(db_);
  migrate();
}

void Store::migrate() {
  int version = schema_version(db_);
  if (version > kSchemaVersion)
    throw InputError(db_.path(), "",
                     fmt::format("database schema version {} is newer than this bench supports ({}); expected a "
                                 "database written by this or an older version", version, kSchemaVersion));
  if (version == kSchemaVersion) return;
  // Re-read inside the write transaction: another process may have migrated in between.
  db_.write_transaction([&] {
    int v = schema_version(db_);
    if (v < kSchemaVersion) apply_migrations(db_, v, kSchemaVersion);
  });
}

int64_t Store::begin_run(const NewRun& r, const std::vector<NewConfiguration>& configs) {
  int64_t run_id = 0;
  db_.write_transaction([&] {
    Stmt ins(db_, R"SQL(INSERT INTO runs (suite_name, suite_path, suite_sha256, suite_text, started_at, status,
        git_commit, git_dirty, compiler, build_type, build_flags, build_id, bench_version, cpu_model, cpu_cores,
        gpu_model, gpu_driver, cuda_version, os, host, pid, threads, seed, device, data_root, command_line)
        VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))SQL");
    const Provenance& p = r.provenance;
    auto opt = [](const std::string& v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
    ins.bind_all(r.suite_name, r.suite_path, r.suite_sha256, r.suite_text, utc_now(), p.git_commit, p.git_dirty,
                 p.compiler, p.build_type, p.build_flags, p.build_id, p.bench_version, p.cpu_model,
                 (int64_t)p.cpu_cores, opt(p.gpu_model), opt(p.gpu_driver), opt(p.cuda_version), p.os, p.host,
                 (int64_t)getpid(), (int64_t)r.threads, (int64_t)r.seed, r.device, r.data_root, r.command_line);
    ins.run();
    run_id = db_.last_insert_rowid();
    Stmt cfg(db_, R"SQL(INSERT INTO configurations (run_id, plan_index, label, method, method_kind, params, stack,
        model_name, model_path, model_sha256, model_storage, task, task_options, dataset_files, protocol,
        protocol_version, protocol_params, build_id, identity, comparison_key, status)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending'))SQL");
    Stmt mem(db_, "INSERT INTO configuration_members (configuration_id, position, roles, method, params) "
                  "VALUES (?, ?, ?, ?, ?)");
    for (const auto& c : configs) {
      cfg.bind_all(run_id, c.plan_index, c.label, c.method, c.method_kind, c.params, c.stack,
                   c.model_name.empty() ? std::nullopt : std::optional<std::string>(c.model_name), c.model_path,
                   c.model_sha256, c.model_storage, c.task, c.task_options, c.dataset_files, c.protocol,
                   c.protocol_version, c.protocol_params, c.build_id, c.identity, c.comparison_key);
      cfg.run();
      const int64_t config_id = db_.last_insert_rowid();
      for (size_t k = 0; k < c.members.size(); ++k)
        mem.bind_all(config_id, (int64_t)k, c.members[k].roles, c.members[k].method, c.members[k].params).run();
    }
  });
  return run_id;
}

namespace {
std::optional<StoredRun> read_run(Db& db, const std::string& where, const std::string& arg_text, int64_t arg_int) {
  Stmt st(db, "SELECT id, suite_name, suite_sha256, status, build_id FROM runs WHERE " + where + " ORDER BY id DESC LIMIT 1");
  if (!arg_text.empty()) st.bind(1, arg_text); else st.bind(1, arg_int);
  if (!st.step()) return std::nullopt;
  return StoredRun{st.col_int(0), st.col_text(1), st.col_text(2), st.col_text(3), st.col_text(4)};
}
}  // namespace

std::optional<StoredRun> Store::latest_run_of_suite(const std::string& suite_sha256) {
  return read_run(db_, "suite_sha256 = ?", suite_sha256, 0);
}

std::optional<StoredRun> Store::find_run(int64_t run_id) { return read_run(db_, "id = ?", "", run_id); }

bool Store::run_is_live(int64_t run_id) {
  json rows = query_rows(db_, "SELECT status, host, pid FROM runs WHERE id = ?", run_id);
  return !rows.empty() && live(rows[0]["status"], rows[0]["host"], rows[0]["pid"]);
}

void Store::reopen_run(int64_t run_id) {
  db_.write_transaction([&] {
    Stmt st(db_, "UPDATE runs SET status = 'running', ended_at = NULL, pid = ?, host = ? WHERE id = ?");
    st.bind_all((int64_t)getpid(), host_name(), run_id).run();
  });
}

std::vector<StoredConfiguration> Store::configurations(int64_t run_id) {
  Stmt st(db_, "SELECT id, plan_index, label, identity, status, COALESCE(error, '') FROM configurations "
               "WHERE run_id = ? ORDER BY plan_index");
  st.bind(1, run_id);
  std::vector<StoredConfiguration> out;
  while (st.step())
    out.push_back(StoredConfiguration{st.col_int(0), st.col_int(1), st.col_text(2), st.col_text(3), st.col_text(4), st.col_text(5)});
  return out;
}

void Store::start_configuration(int64_t config_id) {
  db_.write_transaction([&] {
    Stmt st(db_, R"SQL(UPDATE configurations SET status = 'running', started_at = ?, ended_at = NULL,
        exec_order = (SELECT COALESCE(MAX(exec_order), 0) + 1 FROM configurations
                      WHERE run_id = (SELECT run_id FROM configurations WHERE id = ?))
        WHERE id = ?)SQL");
    st.bind_all(utc_now(), config_id, config_id).run();
  });
}

namespace {
void clear_results(Db& db, int64_t config_id) {
  for (const char* table : {"results", "summaries", "items"}) {
    Stmt st(db, std::string("DELETE FROM ") + table + " WHERE configuration_id = ?");
    st.bind(1, config_id).run();
  }
}
}  // namespace

void Store::complete_configuration(int64_t config_id, const ConfigurationResults& res, double wall_s) {
  db_.write_transaction([&] {
    clear_results(db_, config_id);
    std::string protocol;
    int64_t protocol_version = 0;
    {
      Stmt st(db_, "SELECT protocol, protocol_version FROM configurations WHERE id = ?");
      st.bind(1, config_id);
      if (!st.step()) throw std::runtime_error(fmt::format("configuration {} does not exist", config_id));
      protocol = st.col_text(0);
      protocol_version = st.col_int(1);
    }
    Stmt ins(db_, "INSERT INTO results (configuration_id, metric, labels, value, unit, repetition, protocol, "
                  "protocol_version, better) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    // Repetitions of each (metric, labels), in first-reported order, for the summaries.
    std::map<std::pair<std::string, std::string>, std::pair<std::string, std::vector<double>>> reps;
    for (const auto& m : res.metrics) {
      std::string labels = m.labels.dump();
      ins.bind_all(config_id, m.name, labels, m.value, m.unit, (int64_t)m.rep, protocol, protocol_version, m.better)
          .run();
      auto& r = reps[{m.name, labels}];
      r.first = m.unit;
      r.second.push_back(m.value);
    }
    Stmt sum(db_, "INSERT INTO summaries (configuration_id, metric, labels, unit, n, median, min, max, p90, mean, "
                  "stddev, cv) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const auto& [key, r] : reps) {
      if (r.second.size() < 2) continue;
      Summary s = summarize(r.second);
      sum.bind_all(config_id, key.first, key.second, r.first, (int64_t)s.n, s.median, s.min, s.max, s.p90, s.mean,
                   s.stddev, s.cv).run();
    }
    Stmt item(db_, "INSERT INTO items (configuration_id, key, score, detail) VALUES (?, ?, ?, ?)");
    for (const auto& it : res.items) item.bind_all(config_id, it.key, it.score, it.detail.dump()).run();
    Stmt done(db_, "UPDATE configurations SET status = 'complete', error = NULL, error_kind = NULL, ended_at = ?, "
                   "wall_s = ? WHERE id = ?");
    done.bind_all(utc_now(), wall_s, config_id).run();
  });
}

void Store::fail_configuration(int64_t config_id, const std::string& error, const std::string& kind, double wall_s) {
  db_.write_transaction([&] {
    clear_results(db_, config_id);
    Stmt st(db_, "UPDATE configurations SET status = 'failed', error = ?, error_kind = ?, ended_at = ?, wall_s = ? "
                 "WHERE id = ?");
    st.bind_all(error, kind, utc_now(), wall_s, config_id).run();
  });
}

std::string Store::finish_run(int64_t run_id) {
  std::string status;
  db_.write_transaction([&] {
    Stmt count(db_, "SELECT COUNT(*) FROM configurations WHERE run_id = ? AND status != 'complete'");
    count.bind(1, run_id);
    count.step();
    status = count.col_int(0) == 0 ? "complete" : "failed";
    Stmt st(db_, "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?");
    st.bind_all(status, utc_now(), run_id).run();
  });
  return status;
}

json Store::list_runs() {
  json runs = query_rows(db_, R"SQL(SELECT r.id, r.suite_name, r.started_at, r.ended_at, r.status, r.git_commit,
      r.git_dirty, r.host, r.pid, r.threads,
      (SELECT COUNT(*) FROM configurations c WHERE c.run_id = r.id) AS configurations,
      (SELECT COUNT(*) FROM configurations c WHERE c.run_id = r.id AND c.status = 'complete') AS complete,
      (SELECT COUNT(*) FROM configurations c WHERE c.run_id = r.id AND c.status = 'failed') AS failed
      FROM runs r ORDER BY r.id DESC)SQL", 0);
  for (auto& r : runs)
    if (r["status"] == "running" && !live(r["status"], r["host"], r["pid"])) r["status"] = "interrupted";
  return runs;
}

json Store::load_run(int64_t run_id, bool with_items) {
  json runs = query_rows(db_, "SELECT * FROM runs WHERE id = ?", run_id);
  if (runs.empty()) throw InputError(db_.path(), "", fmt::format("no run with id {}; expected one of `bench list runs`", run_id));
  json doc = {{"run", runs[0]}, {"configurations", json::array()}};
  json configs = query_rows(db_, "SELECT * FROM configurations WHERE run_id = ? ORDER BY plan_index", run_id);
  // One query per table for the whole run, distributed to configurations by id.
  std::map<long long, size_t> index;
  for (size_t i = 0; i < configs.size(); ++i) {
    index[configs[i]["id"].get<long long>()] = i;
    configs[i]["results"] = json::array();
    configs[i]["summaries"] = json::array();
    configs[i]["items"] = json::array();
  }
  auto distribute = [&](const std::string& table, const std::string& order) {
    json rows = query_rows(db_, "SELECT t.* FROM " + table + " t JOIN configurations c ON c.id = t.configuration_id "
                                "WHERE c.run_id = ? ORDER BY " + order, run_id);
    for (auto& row : rows) {
      long long cid = row["configuration_id"].get<long long>();
      row.erase("configuration_id");
      configs[index.at(cid)][table].push_back(std::move(row));
    }
  };
  distribute("results", "t.id");
  distribute("summaries", "t.metric, t.labels");
  if (with_items) distribute("items", "t.rowid");
  doc["configurations"] = std::move(configs);
  return doc;
}

}  // namespace bp
