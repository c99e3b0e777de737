#pragma once
// The runner's side of `bench run --shard i/N`: which part of the plan this shard runs (with the costs that
// balanced the parts), and the `shards` row that records it in the shard's database (schema: store_schema.cpp,
// results/README.md), which `bench merge` reads back.
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "harness/core/provenance.h"
#include "harness/core/shard.h"
#include "harness/core/store.h"

namespace bp {

// Wall times of complete configurations in a results database, by comparison key (the latest when several runs
// hold the same measurement). The database is opened read-only; a missing or unreadable file is an InputError
// naming `option` and the path.
std::map<std::string, double> read_measured_costs(const std::string& db_path, const std::string& option);

// Costs for the partition: measured wall times where known (by plan_index), the static estimate elsewhere, scaled
// to seconds by the measured configurations (sum of measured / sum of their static estimates) when there are some.
struct ShardCosts {
  std::function<double(const Configuration&)> cost;
  std::string unit;    // "s" when calibrated by measurements, else "units" (static estimate, token units)
  std::string source;  // "static estimate" or "DB: k of n measured"
};
ShardCosts make_shard_costs(const std::vector<Configuration>& order, const std::map<size_t, double>& measured_by_plan_index,
                            const std::string& measured_from);

// The whole (filtered) plan being sharded: [[plan_index, label], ...] by plan_index. Every shard of one sweep
// records the same value; `bench merge` checks it and reports gaps with these labels.
json sharded_plan_json(const std::vector<Configuration>& order);

// Prints the parts (configurations, model loads, estimated cost per shard), marking `spec`'s.
void print_shard_parts(std::FILE* out, const ShardSpec& spec, const std::vector<ShardPart>& parts,
                       const ShardCosts& costs, size_t planned);

// Inserts the run's `shards` row and points its configurations at it (one transaction).
void record_shard(Store& store, int64_t run_id, const ShardSpec& spec, const json& plan, const std::string& cost_source,
                  const Provenance& prov);

// --resume --shard: the plan indices of the shard's earlier run in `db_path` (the latest run of the suite), checked
// to be shard `spec` of the same plan. A resumed shard reruns its own configurations whatever the costs say now
// (a --costs-from database may have changed since). nullopt when the database holds no run of the suite.
std::optional<std::set<size_t>> resumed_shard_part(const std::string& db_path, const std::string& suite_sha256,
                                                   const ShardSpec& spec, const json& plan);

// --resume of a shard: the earlier run must be the same part of the same plan. Throws InputError naming `db_path`.
void check_resumed_shard(Store& store, int64_t run_id, const std::optional<ShardSpec>& spec, const json& plan,
                         const std::string& db_path);

}  // namespace bp
