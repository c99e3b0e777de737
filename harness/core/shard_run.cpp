#include "harness/core/shard_run.h"

#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "harness/common/error.h"

namespace bp {

std::map<std::string, double> read_measured_costs(const std::string& db_path, const std::string& option) {
  if (!std::filesystem::is_regular_file(db_path))
    throw InputError(option, "", fmt::format("no results database at {}; expected the --db of an earlier run (or a "
                                             "merged database) whose wall times balance the shards", db_path));
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  sqlite3_stmt* st = nullptr;
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(raw, "SELECT comparison_key, wall_s FROM configurations WHERE status = 'complete' AND "
                                 "wall_s IS NOT NULL AND comparison_key IS NOT NULL ORDER BY id", -1, &st, nullptr);
  if (rc != SQLITE_OK)
    throw InputError(option, "", fmt::format("{}: not a readable results database ({}); expected the --db of an "
                                             "earlier `bench run`", db_path, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> guard(st, &sqlite3_finalize);
  std::map<std::string, double> out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = sqlite3_column_double(st, 1);
  if (rc != SQLITE_DONE)
    throw InputError(option, "", fmt::format("{}: reading wall times failed: {}", db_path, sqlite3_errmsg(raw)));
  return out;
}

ShardCosts make_shard_costs(const std::vector<Configuration>& order, const std::map<size_t, double>& measured,
                            const std::string& measured_from) {
  double measured_sum = 0, static_sum = 0;
  for (const auto& c : order)
    if (auto it = measured.find(c.plan_index); it != measured.end()) {
      measured_sum += it->second;
      static_sum += static_cost(c);
    }
  ShardCosts out;
  if (measured_sum <= 0 || static_sum <= 0) {
    out.cost = static_cost;
    out.unit = "units";
    out.source = measured_from.empty() ? "static estimate"
                                       : fmt::format("static estimate ({} holds no wall time of this plan)", measured_from);
    return out;
  }
  const double scale = measured_sum / static_sum;
  out.cost = [measured, scale](const Configuration& c) {
    auto it = measured.find(c.plan_index);
    return it != measured.end() ? it->second : static_cost(c) * scale;
  };
  out.unit = "s";
  out.source = fmt::format("{}: {} of {} configurations measured, the others estimated", measured_from,
                           measured.size(), order.size());
  return out;
}

json sharded_plan_json(const std::vector<Configuration>& order) {
  std::map<size_t, std::string> by_index;
  for (const auto& c : order) by_index[c.plan_index] = c.label;
  json plan = json::array();
  for (const auto& [i, label] : by_index) plan.push_back(json::array({i, label}));
  return plan;
}

void print_shard_parts(std::FILE* out, const ShardSpec& spec, const std::vector<ShardPart>& parts,
                       const ShardCosts& costs, size_t planned) {
  double total = 0;
  for (const auto& p : parts) total += p.cost;
  std::fprintf(out, "shards: %zu configurations in %zu parts, balanced by %s\n", planned, parts.size(),
               costs.source.c_str());
  std::fprintf(out, "shard  configurations  model loads  estimated cost (%s)  share\n", costs.unit.c_str());
  for (size_t i = 0; i < parts.size(); ++i)
    std::fprintf(out, "%5zu%c %14zu  %11d  %20.4g  %4.1f%%\n", i + 1, (int)i + 1 == spec.index ? '*' : ' ',
                 parts[i].members.size(), parts[i].instance_groups, parts[i].cost,
                 total > 0 ? 100.0 * parts[i].cost / total : 0.0);
  std::fprintf(out, "this is shard %d/%d (*)\n", spec.index, spec.count);
}

void record_shard(Store& store, int64_t run_id, const ShardSpec& spec, const json& plan, const std::string& cost_source,
                  const Provenance& p) {
  Db& db = store.db();
  db.write_transaction([&] {
    Stmt ins(db, R"SQL(INSERT INTO shards (run_id, shard_index, shard_count, plan, cost_source, host, cpu_model,
        cpu_cores, gpu_model, gpu_driver, cuda_version, git_commit, git_dirty, build_id, bench_version, started_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))SQL");
    auto opt = [](const std::string& v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
    ins.bind_all(run_id, (int64_t)spec.index, (int64_t)spec.count, plan.dump(), cost_source, p.host, p.cpu_model,
                 (int64_t)p.cpu_cores, opt(p.gpu_model), opt(p.gpu_driver), opt(p.cuda_version), p.git_commit,
                 p.git_dirty, p.build_id, p.bench_version, utc_now());
    ins.run();
    const int64_t shard_id = db.last_insert_rowid();
    Stmt upd(db, "UPDATE configurations SET shard_id = ? WHERE run_id = ?");
    upd.bind_all(shard_id, run_id).run();
  });
}

void check_resumed_shard(Store& store, int64_t run_id, const std::optional<ShardSpec>& spec, const json& plan,
                         const std::string& db_path) {
  Stmt st(store.db(), "SELECT shard_index, shard_count, plan FROM shards WHERE run_id = ? AND source_path IS NULL");
  st.bind(1, run_id);
  const bool sharded = st.step();
  if (!spec && !sharded) return;
  if (!spec)
    throw InputError(db_path, "", fmt::format("--resume: run {} is shard {}/{} of a sweep; expected --shard {}/{} "
                                              "(and the same --costs-from) to resume it", run_id, st.col_int(0),
                                              st.col_int(1), st.col_int(0), st.col_int(1)));
  if (!sharded)
    throw InputError(db_path, "", fmt::format("--resume --shard {}/{}: run {} was not sharded; expected the database "
                                              "of that shard's earlier run", spec->index, spec->count, run_id));
  if (st.col_int(0) != spec->index || st.col_int(1) != spec->count)
    throw InputError(db_path, "", fmt::format("--resume: run {} is shard {}/{}, not {}/{}", run_id, st.col_int(0),
                                              st.col_int(1), spec->index, spec->count));
  if (st.col_text(2) != plan.dump())
    throw InputError(db_path, "", fmt::format("--resume --shard {}/{}: run {} sharded another plan (different "
                                              "--filter or suite expansion)", spec->index, spec->count, run_id));
}

std::optional<std::set<size_t>> resumed_shard_part(const std::string& db_path, const std::string& suite_sha256,
                                                   const ShardSpec& spec, const json& plan) {
  if (!std::filesystem::exists(db_path)) return std::nullopt;
  Store store(db_path, /*create=*/false);
  auto prev = store.latest_run_of_suite(suite_sha256);
  if (!prev) return std::nullopt;
  check_resumed_shard(store, prev->id, spec, plan, db_path);
  std::set<size_t> part;
  for (const auto& c : store.configurations(prev->id)) part.insert((size_t)c.plan_index);
  return part;
}

}  // namespace bp
