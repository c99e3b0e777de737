#include "harness/core/merge.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <variant>

#include <fmt/format.h>

#include "harness/common/error.h"
#include "harness/common/param_schema.h"
#include "harness/core/store.h"
#include "harness/core/store_schema.h"

namespace fs = std::filesystem;

namespace bp {

namespace {

// ---- a minimal read-only SQLite layer: inputs are never written (not even a WAL mode switch) -------------------
using Handle = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;
using Statement = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

Statement prepare(sqlite3* db, const std::string& sql, const std::string& file) {
  sqlite3_stmt* st = nullptr;
  if (int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr); rc != SQLITE_OK)
    throw InputError(file, "", fmt::format("expected a BenchPress results database; SQLite: {} (in: {})",
                                           sqlite3_errmsg(db), sql.substr(0, 80)));
  return Statement(st, &sqlite3_finalize);
}

bool step(sqlite3_stmt* st, const std::string& file) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw InputError(file, "", fmt::format("SQLite: {}", sqlite3_errmsg(sqlite3_db_handle(st))));
}

std::string text(sqlite3_stmt* st, int i) {
  const unsigned char* p = sqlite3_column_text(st, i);
  return p ? std::string(reinterpret_cast<const char*>(p), (size_t)sqlite3_column_bytes(st, i)) : std::string();
}

struct Column {
  std::string name;
  bool not_null = false;
  bool rowid_key = false;  // INTEGER PRIMARY KEY: renumbered by the output
};

std::vector<Column> table_columns(sqlite3* db, const std::string& table, const std::string& file) {
  Statement st = prepare(db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info('" + table + "')", file);
  std::vector<Column> cols;
  std::vector<int> pks;
  while (step(st.get(), file)) {
    cols.push_back(Column{text(st.get(), 0), sqlite3_column_int(st.get(), 2) != 0, false});
    if (sqlite3_column_int(st.get(), 3) > 0 && text(st.get(), 1) == "INTEGER") pks.push_back((int)cols.size() - 1);
  }
  if (pks.size() == 1) cols[pks[0]].rowid_key = true;
  return cols;
}

std::vector<std::string> tables_with_column(sqlite3* db, const std::string& column, const std::string& file) {
  Statement st = prepare(db, "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM "
                             "pragma_table_info(m.name) p WHERE p.name = ?) ORDER BY m.name", file);
  sqlite3_bind_text(st.get(), 1, column.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::string> out;
  while (step(st.get(), file)) out.push_back(text(st.get(), 0));
  return out;
}

// One row as SQLite values, by column name (copies that outlive the statement).
using Row = std::map<std::string, std::shared_ptr<sqlite3_value>>;
Row read_row(sqlite3_stmt* st) {
  Row r;
  for (int i = 0, n = sqlite3_column_count(st); i < n; ++i)
    r[sqlite3_column_name(st, i)] = std::shared_ptr<sqlite3_value>(sqlite3_value_dup(sqlite3_column_value(st, i)),
                                                                   &sqlite3_value_free);
  return r;
}
std::vector<Row> read_rows(sqlite3* db, const std::string& sql, int64_t arg, const std::string& file) {
  Statement st = prepare(db, sql, file);
  sqlite3_bind_int64(st.get(), 1, arg);
  std::vector<Row> rows;
  while (step(st.get(), file)) rows.push_back(read_row(st.get()));
  return rows;
}
std::string row_text(const Row& r, const std::string& col) {
  auto it = r.find(col);
  if (it == r.end() || sqlite3_value_type(it->second.get()) == SQLITE_NULL) return "";
  const unsigned char* p = sqlite3_value_text(it->second.get());
  return std::string(reinterpret_cast<const char*>(p), (size_t)sqlite3_value_bytes(it->second.get()));
}
int64_t row_int(const Row& r, const std::string& col) {
  auto it = r.find(col);
  return it == r.end() ? 0 : sqlite3_value_int64(it->second.get());
}
bool same_value(sqlite3_value* a, sqlite3_value* b) {
  if (sqlite3_value_type(a) != sqlite3_value_type(b)) return false;
  switch (sqlite3_value_type(a)) {
    case SQLITE_NULL: return true;
    case SQLITE_INTEGER: return sqlite3_value_int64(a) == sqlite3_value_int64(b);
    case SQLITE_FLOAT: return sqlite3_value_double(a) == sqlite3_value_double(b);
    default:
      return sqlite3_value_bytes(a) == sqlite3_value_bytes(b) &&
             std::equal((const char*)sqlite3_value_blob(a), (const char*)sqlite3_value_blob(a) + sqlite3_value_bytes(a),
                        (const char*)sqlite3_value_blob(b));
  }
}

// ---- one input: the latest sharded run of a shard database -----------------------------------------------------
struct Input {
  std::string path;  // absolute
  Handle db{nullptr, &sqlite3_close};
  Row run, shard;
  std::vector<Row> configurations;  // by plan_index
  int64_t run_id = 0, shard_index = 0, shard_count = 0;
  std::string suite_sha256, plan;
};

Input open_input(const std::string& given) {
  Input in;
  in.path = fs::absolute(given).lexically_normal().string();
  if (!fs::is_regular_file(given))
    throw InputError(given, "", "no such database; expected the --db of a `bench run --shard I/N`");
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(given.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  in.db.reset(raw);
  if (rc != SQLITE_OK)
    throw InputError(given, "", fmt::format("cannot open it read-only ({}); expected a BenchPress results database",
                                            raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(raw, Db::kBusyTimeoutMs);
  {
    Statement v = prepare(raw, "PRAGMA user_version", given);
    step(v.get(), given);
    if (int version = sqlite3_column_int(v.get(), 0); version > kSchemaVersion)
      throw InputError(given, "", fmt::format("database schema version {} is newer than this bench supports ({}); "
                                              "expected a database written by this or an older version", version,
                                              kSchemaVersion));
  }
  if (tables_with_column(raw, "shard_index", given).empty())
    throw InputError(given, "", "holds no sharded run (no shards table); expected the --db of a `bench run --shard I/N`");
  std::vector<Row> shards = read_rows(raw, "SELECT * FROM shards WHERE source_path IS NULL ORDER BY run_id DESC LIMIT 1", 0, given);
  if (shards.empty())
    throw InputError(given, "", "holds no sharded run; expected the --db of a `bench run --shard I/N`");
  in.shard = shards[0];
  in.run_id = row_int(in.shard, "run_id");
  in.shard_index = row_int(in.shard, "shard_index");
  in.shard_count = row_int(in.shard, "shard_count");
  in.plan = row_text(in.shard, "plan");
  std::vector<Row> runs = read_rows(raw, "SELECT * FROM runs WHERE id = ?", in.run_id, given);
  if (runs.empty()) throw InputError(given, "", fmt::format("shards row of run {} has no run; expected a whole database", in.run_id));
  in.run = runs[0];
  in.suite_sha256 = row_text(in.run, "suite_sha256");
  in.configurations = read_rows(raw, "SELECT * FROM configurations WHERE run_id = ? ORDER BY plan_index", in.run_id, given);
  return in;
}

// ---- writing the output ------------------------------------------------------------------------------------------
// A value written in place of the source row's: NULL, an integer, a text, or another row's value.
using Value = std::variant<std::nullptr_t, int64_t, std::string, std::shared_ptr<sqlite3_value>>;

void bind_value(sqlite3_stmt* st, int i, const Value& v) {
  if (std::holds_alternative<std::nullptr_t>(v)) sqlite3_bind_null(st, i);
  else if (auto n = std::get_if<int64_t>(&v)) sqlite3_bind_int64(st, i, *n);
  else if (auto t = std::get_if<std::string>(&v)) sqlite3_bind_text(st, i, t->c_str(), (int)t->size(), SQLITE_TRANSIENT);
  else sqlite3_bind_value(st, i, std::get<std::shared_ptr<sqlite3_value>>(v).get());
}

// INSERT of the columns the output table and the source row share (the output's integer key left to SQLite), with
// overrides; returns the new rowid. Column lists come from the schemas, never from a fixed list.
int64_t insert_row(Db& out, const std::string& table, const std::vector<Column>& out_cols, const Row& row,
                   const std::map<std::string, Value>& overrides, const std::string& file) {
  std::vector<std::string> names;
  std::vector<Value> values;
  for (const auto& c : out_cols) {
    if (auto o = overrides.find(c.name); o != overrides.end()) {
      names.push_back(c.name);
      values.push_back(o->second);
    } else if (auto it = row.find(c.name); it != row.end() && !c.rowid_key) {
      names.push_back(c.name);
      values.push_back(it->second);
    }
  }
  std::string cols, marks;
  for (size_t i = 0; i < names.size(); ++i) {
    cols += (i ? ", \"" : "\"") + names[i] + "\"";
    marks += i ? ", ?" : "?";
  }
  const std::string sql = "INSERT INTO \"" + table + "\" (" + cols + ") VALUES (" + marks + ")";
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(out.handle(), sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw InputError(file, "", fmt::format("cannot copy table {}: {}", table, sqlite3_errmsg(out.handle())));
  Statement guard(st, &sqlite3_finalize);
  for (size_t i = 0; i < values.size(); ++i) bind_value(st, (int)i + 1, values[i]);
  if (sqlite3_step(st) != SQLITE_DONE)
    throw InputError(file, "", fmt::format("cannot copy a row of table {} into the merged database: {}; expected the "
                                           "columns this bench's schema requires", table, sqlite3_errmsg(out.handle())));
  return out.last_insert_rowid();
}

// An existing OUT may be replaced only when it is a merged database (every run made by bench merge): OUT is never a
// shard's or a user's own results database by mistake.
void check_replaceable(const std::string& out) {
  if (!fs::exists(out)) return;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(out.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  Handle db(raw, &sqlite3_close);
  if (rc != SQLITE_OK)
    throw InputError(out, "", "exists and is not a readable database; expected a new path or an earlier merged database");
  Statement runs = prepare(raw, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'", out);
  step(runs.get(), out);
  if (sqlite3_column_int(runs.get(), 0) == 0) {
    Statement any = prepare(raw, "SELECT COUNT(*) FROM sqlite_master", out);
    step(any.get(), out);
    if (sqlite3_column_int(any.get(), 0) == 0) return;  // an empty file
    throw InputError(out, "", "exists and is not a BenchPress results database; expected a new path or an earlier "
                              "merged database (it is replaced)");
  }
  const bool has_shards = !tables_with_column(raw, "source_path", out).empty();
  Statement own = prepare(raw, has_shards ? "SELECT COUNT(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM shards s "
                                            "WHERE s.run_id = r.id AND s.source_path IS NOT NULL)"
                                          : "SELECT COUNT(*) FROM runs", out);
  step(own.get(), out);
  if (int n = sqlite3_column_int(own.get(), 0); n > 0)
    throw InputError(out, "", fmt::format("holds {} run(s) not made by `bench merge`; expected a new path or an earlier "
                                          "merged database (bench merge replaces OUT, it never adds to a database)", n));
  // Fold a leftover WAL into the file, so that no stale -wal is applied to the file that replaces it.
  sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
}

std::string first_mismatch_note(const std::vector<std::pair<int64_t, std::string>>& list, size_t max = 5) {
  std::string s;
  for (size_t i = 0; i < list.size() && i < max; ++i)
    s += fmt::format("{}#{} {}", i ? "; " : "", list[i].first + 1, list[i].second);
  if (list.size() > max) s += fmt::format("; and {} more", list.size() - max);
  return s;
}

}  // namespace

MergeOutcome merge_shards(const MergeOptions& opts) {
  if (opts.inputs.empty()) throw InputError("bench merge", "", "expected at least one input database after OUT");
  const std::string out_abs = fs::absolute(opts.out).lexically_normal().string();

  // ---- read and check the inputs --------------------------------------------------------------------------------
  std::vector<Input> inputs;
  std::set<std::string> seen_paths;
  for (const auto& given : opts.inputs) {
    std::error_code ec;
    if (fs::exists(given) && fs::exists(opts.out) && fs::equivalent(given, opts.out, ec))
      throw InputError(given, "", "is also OUT; expected OUT to be a new path (the inputs are never written)");
    Input in = open_input(given);
    std::string canon = fs::weakly_canonical(given).string();
    if (!seen_paths.insert(canon).second)
      throw InputError(given, "", "is given twice; expected each shard's database once");
    inputs.push_back(std::move(in));
  }
  std::stable_sort(inputs.begin(), inputs.end(), [](const Input& a, const Input& b) { return a.shard_index < b.shard_index; });
  const Input& first = inputs.front();
  std::map<int64_t, const Input*> by_shard;
  for (const auto& in : inputs) {
    if (in.suite_sha256 != first.suite_sha256)
      throw InputError(in.path, "", fmt::format("holds a run of suite sha256 {} ({}); expected the suite of {}: sha256 "
                                                "{} ({})", in.suite_sha256, row_text(in.run, "suite_path"), first.path,
                                                first.suite_sha256, row_text(first.run, "suite_path")));
    if (in.shard_count != first.shard_count)
      throw InputError(in.path, "", fmt::format("is shard {}/{}; expected a shard of {} as {} is", in.shard_index,
                                                in.shard_count, first.shard_count, first.path));
    if (in.plan != first.plan)
      throw InputError(in.path, "", fmt::format("shards another plan than {} (a different --filter, or a suite that "
                                                "expands differently); expected the same plan in every shard", first.path));
    if (auto [it, fresh] = by_shard.emplace(in.shard_index, &in); !fresh)
      throw InputError(in.path, "", fmt::format("is shard {}/{}, as {} is; expected each shard once", in.shard_index,
                                                in.shard_count, it->second->path));
    if (row_text(in.run, "status") == "running" && !opts.allow_partial)
      throw InputError(in.path, "", fmt::format("run {} (shard {}/{}) did not finish (still running, or interrupted); "
                                                "expected a finished shard: resume it with `bench run SUITE --shard "
                                                "{}/{} --resume --db {}`, or merge with --allow-partial",
                                                in.run_id, in.shard_index, in.shard_count, in.shard_index,
                                                in.shard_count, in.path));
  }
  json plan = json::parse(first.plan, nullptr, false);
  if (!plan.is_array()) throw InputError(first.path, "", "shards.plan is not a JSON array; expected [[plan_index, label], ...]");
  std::map<int64_t, std::string> planned;
  for (const auto& e : plan) planned[e.at(0).get<int64_t>()] = e.at(1).get<std::string>();

  // The same inputs everywhere: a model (path + storage) has one sha256 and a task variant one set of data files
  // across all shards, else the merged run would mix measurements of different files under one suite.
  std::map<std::string, std::pair<std::string, const Input*>> model_sha, data_files;
  for (const auto& in : inputs)
    for (const auto& c : in.configurations) {
      auto same = [&](auto& seen, const std::string& key, const std::string& value, const char* what) {
        auto [it, fresh] = seen.try_emplace(key, value, &in);
        if (!fresh && it->second.first != value)
          throw InputError(in.path, "", fmt::format("configuration #{} ({}) has {} {}, {} has {}; expected every shard "
                                                    "to read the same files", row_int(c, "plan_index") + 1,
                                                    row_text(c, "label"), what, value, it->second.second->path,
                                                    it->second.first));
      };
      same(model_sha, row_text(c, "model_path") + "|" + row_text(c, "model_storage"), row_text(c, "model_sha256"),
           "model sha256");
      same(data_files, row_text(c, "task") + "|" + row_text(c, "task_options"), row_text(c, "dataset_files"),
           "data files");
    }

  // Every planned configuration exactly once.
  std::map<int64_t, std::pair<const Input*, const Row*>> holder;
  std::vector<std::pair<int64_t, std::string>> gaps;
  for (const auto& in : inputs)
    for (const auto& c : in.configurations) {
      const int64_t pi = row_int(c, "plan_index");
      const std::string label = row_text(c, "label");
      auto p = planned.find(pi);
      if (p == planned.end() || p->second != label)
        throw InputError(in.path, "", fmt::format("configuration #{} ({}) is not in the sharded plan; expected one of "
                                                  "its {} configurations", pi + 1, label, planned.size()));
      if (auto [it, fresh] = holder.try_emplace(pi, &in, &c); !fresh)
        throw InputError(in.path, "", fmt::format("configuration #{} ({}) is also in {}; expected every configuration "
                                                  "in exactly one shard", pi + 1, label, it->second.first->path));
      const std::string status = row_text(c, "status");
      if (status != "complete" && status != "failed") {
        if (!opts.allow_partial)
          throw InputError(in.path, "", fmt::format("configuration #{} ({}) is {}; expected every configuration of a "
                                                    "shard complete or failed (resume the shard, or --allow-partial)",
                                                    pi + 1, label, status));
        holder.erase(pi);
        gaps.emplace_back(pi, fmt::format("{}: {} in shard {}/{} ({})", label, status, in.shard_index, in.shard_count,
                                          in.path));
      }
    }
  std::vector<std::pair<int64_t, std::string>> missing;
  for (const auto& [pi, label] : planned)
    if (!holder.count(pi) && std::none_of(gaps.begin(), gaps.end(), [&](const auto& g) { return g.first == pi; }))
      missing.emplace_back(pi, label);
  if (!missing.empty() && !opts.allow_partial) {
    std::string absent;
    for (int64_t s = 1; s <= first.shard_count; ++s)
      if (!by_shard.count(s)) absent += fmt::format("{}{}/{}", absent.empty() ? "" : ", ", s, first.shard_count);
    throw InputError(opts.out, "", fmt::format("{} of the {} planned configurations are in no input ({}){}; expected "
                                               "every shard's database (or --allow-partial to record the gap)",
                                               missing.size(), planned.size(), first_mismatch_note(missing),
                                               absent.empty() ? "" : "; shards not given: " + absent));
  }
  for (const auto& [pi, label] : missing) {
    std::string present;
    for (const auto& [s, in] : by_shard) present += fmt::format("{}{}", present.empty() ? "" : ",", s);
    gaps.emplace_back(pi, fmt::format("{}: in no input (shards given: {} of {})", label, present, first.shard_count));
  }
  std::sort(gaps.begin(), gaps.end());

  // ---- build the merged database beside OUT, then rename it over OUT ---------------------------------------------
  check_replaceable(opts.out);
  if (auto parent = fs::path(out_abs).parent_path(); !parent.empty()) fs::create_directories(parent);
  const std::string tmp = out_abs + fmt::format(".merge-{}.tmp", (long long)getpid());
  auto remove_tmp = [&] {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(tmp + suffix, ec);
  };
  remove_tmp();
  MergeOutcome outcome;
  try {
    Store store(tmp);
    Db& db = store.db();
    const std::vector<Column> run_cols = table_columns(db.handle(), "runs", tmp);
    const std::vector<Column> shard_cols = table_columns(db.handle(), "shards", tmp);
    const std::vector<Column> config_cols = table_columns(db.handle(), "configurations", tmp);
    db.write_transaction([&] {
      // The merged run: what every shard agrees on; provenance that differs is NULL here (kept per shard in
      // `shards`), or the first shard's where the schema requires a value.
      std::map<std::string, Value> run_over;
      size_t complete = 0, failed = 0;
      for (const auto& [pi, h] : holder) (row_text(*h.second, "status") == "complete" ? complete : failed)++;
      outcome.complete = complete;
      outcome.failed = failed;
      outcome.status = (failed == 0 && gaps.empty()) ? "complete" : "failed";
      std::string started, ended;
      for (const auto& in : inputs) {
        std::string s = row_text(in.run, "started_at"), e = row_text(in.run, "ended_at");
        if (started.empty() || (!s.empty() && s < started)) started = s;
        if (e > ended) ended = e;
      }
      for (const auto& c : run_cols) {
        if (c.rowid_key || !first.run.count(c.name)) continue;
        for (const auto& in : inputs) {
          auto it = in.run.find(c.name);
          if (it == in.run.end() || !same_value(it->second.get(), first.run.at(c.name).get())) {
            if (!c.not_null) run_over[c.name] = nullptr;
            break;
          }
        }
      }
      run_over["status"] = outcome.status;
      run_over["started_at"] = started;
      run_over["ended_at"] = ended.empty() ? Value(nullptr) : Value(ended);
      run_over["host"] = nullptr;
      run_over["pid"] = nullptr;
      run_over["command_line"] = opts.command_line;
      outcome.run_id = insert_row(db, "runs", run_cols, first.run, run_over, tmp);

      // Per-configuration tables (results, summaries, items, and any later one with a configuration_id).
      const std::vector<std::string> child_tables = tables_with_column(db.handle(), "configuration_id", tmp);

      for (const auto& in : inputs) {
        std::map<std::string, Value> shard_over{{"run_id", outcome.run_id}, {"source_path", in.path},
                                                {"source_run_id", in.run_id}};
        // The provenance of the last writer of the shard (a resumed shard may have finished elsewhere).
        for (const char* col : {"host", "ended_at"})
          if (in.run.count(col)) shard_over[col] = in.run.at(col);
        const int64_t shard_id = insert_row(db, "shards", shard_cols, in.shard, shard_over, in.path);
        std::set<std::string> src_tables;
        for (const auto& t : tables_with_column(in.db.get(), "configuration_id", in.path)) src_tables.insert(t);
        for (const auto& c : in.configurations) {
          if (!holder.count(row_int(c, "plan_index")) || holder.at(row_int(c, "plan_index")).first != &in) continue;
          const int64_t cid = insert_row(db, "configurations", config_cols, c,
                                         {{"run_id", outcome.run_id}, {"shard_id", shard_id}}, in.path);
          ++outcome.configurations;
          for (const auto& t : child_tables) {
            if (!src_tables.count(t)) continue;
            const std::vector<Column> cols = table_columns(db.handle(), t, tmp);
            for (const auto& r : read_rows(in.db.get(), "SELECT * FROM \"" + t + "\" WHERE configuration_id = ? "
                                                        "ORDER BY rowid", row_int(c, "id"), in.path))
              insert_row(db, t, cols, r, {{"configuration_id", cid}}, in.path);
          }
        }
      }
      const std::vector<Column> gap_cols = table_columns(db.handle(), "merge_gaps", tmp);
      for (const auto& [pi, reason] : gaps)
        insert_row(db, "merge_gaps", gap_cols, {},
                   {{"run_id", outcome.run_id}, {"plan_index", pi}, {"label", planned.at(pi)}, {"reason", reason}}, tmp);
    });
    // One self-contained file (no -wal beside it) before it takes OUT's place.
    db.exec("PRAGMA journal_mode=DELETE");
  } catch (...) {
    remove_tmp();
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, out_abs, ec);
  if (ec) {
    remove_tmp();
    throw InputError(opts.out, "", fmt::format("cannot replace it with the merged database: {}", ec.message()));
  }
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(out_abs + suffix, ec);
  outcome.shards = inputs.size();
  outcome.shard_count = (size_t)first.shard_count;
  outcome.gaps = gaps.size();
  return outcome;
}

}  // namespace bp
