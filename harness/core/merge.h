#pragma once
// `bench merge OUT.db IN.db...`: the shard databases of one sharded sweep (`bench run --shard i/N`, each on its own
// machine and database) merged into one run. Checks: every input holds a sharded run of the same suite (sha256),
// the same shard count and the same plan, each shard index once; every planned configuration exactly once (a
// duplicate is an error; a missing one is an error, or with allow_partial a row of `merge_gaps`). Each input's
// provenance (host, CPU/GPU, commit, build id) is kept in `shards`, and every merged configuration points at its
// shard. Rows are copied generically: the columns a table has in both the input and the output, so inputs with
// more or fewer columns (other schema versions) merge as long as the output's required columns are present.
//
// OUT is rebuilt from the inputs each time (so merging the same inputs again gives the same OUT) in a temporary
// file beside it that replaces OUT by rename only when everything succeeded: a failed merge leaves OUT untouched.
// An existing OUT is replaced only when it holds nothing but merged runs. Inputs are opened read-only.
#include <cstdint>
#include <string>
#include <vector>

namespace bp {

struct MergeOptions {
  std::string out;
  std::vector<std::string> inputs;
  bool allow_partial = false;
  std::string command_line;  // stored as the merged run's command_line
};

struct MergeOutcome {
  int64_t run_id = 0;
  size_t shards = 0, shard_count = 0;
  size_t configurations = 0, complete = 0, failed = 0;
  size_t gaps = 0;                  // planned configurations no input held (allow_partial only)
  std::string status;               // the merged run's: 'complete' or 'failed'
};

// Throws InputError (naming the file and what was expected) for every problem with the inputs or OUT.
MergeOutcome merge_shards(const MergeOptions& opts);

}  // namespace bp
