// `bench merge OUT.db IN.db...`: the shard databases of a sharded sweep merged into one run (harness/core/merge.h).
#include <cstdio>

#include "harness/cli/command.h"
#include "harness/core/merge.h"

namespace bp::cli {

namespace {

const CommandSpec kSpec{
    .name = "merge",
    .summary = "merge the shard databases of a sharded sweep into one run",
    .description =
        "Merges the databases of the shards of one sweep (`bench run SUITE --shard I/N --db IN.db`, one per shard) into\n"
        "one run in OUT.db. Every input must hold a sharded run of the same suite (sha256), shard count and plan; every\n"
        "planned configuration must be in exactly one input. Each result keeps its shard's provenance (table shards:\n"
        "host, CPU/GPU, commit, build id). OUT is rebuilt from the inputs each time, in a temporary file that replaces it\n"
        "only when the merge succeeded; an existing OUT must be an earlier merged database. Inputs are opened read-only.",
    .positionals = {{"OUT.db", "the merged database (created, or an earlier merge replaced)"},
                    {.name = "IN.db", .help = "the shard databases", .repeated = true}},
    .options = {{.name = "--allow-partial", .takes_value = false,
                 .help = "merge even when configurations are missing (a shard not given, or one that did not finish): "
                         "they are listed in table merge_gaps and the merged run is 'failed'"}},
    .epilog = "Exit codes: 0 merged, every configuration complete; 1 merged, but some configurations failed (or are\n"
              "gaps); 2 an input or OUT is unusable, or a check failed (OUT untouched).",
};

int cmd_merge(const ParsedArgs& a) {
  MergeOptions o;
  o.out = a.positional[0];
  o.inputs.assign(a.positional.begin() + 1, a.positional.end());
  o.allow_partial = a.flag("--allow-partial");
  o.command_line = "bench merge";
  for (const auto& s : a.raw) o.command_line += " " + s;
  const MergeOutcome m = merge_shards(o);
  std::printf("merged %zu of %zu shard(s) into %s: run %lld, %zu configuration(s): %zu complete, %zu failed, %zu gap(s); "
              "status %s\n", m.shards, m.shard_count, o.out.c_str(), (long long)m.run_id, m.configurations, m.complete,
              m.failed, m.gaps, m.status.c_str());
  return m.status == "complete" ? 0 : 1;
}

}  // namespace

BENCH_REGISTER_COMMAND(merge, kSpec, cmd_merge);

}  // namespace bp::cli
