// `bench run SUITE.json`: expand a suite into configurations and run them into the results database.
#include <cstdio>
#include <filesystem>

#include "harness/cli/command.h"
#include "harness/cli/python_entry.h"
#include "harness/common/error.h"
#include "harness/core/runner.h"
#include "harness/core/suite.h"

namespace bp::cli {

namespace {

const CommandSpec kSpec{
    .name = "run",
    .summary = "run a suite of configurations into the results database",
    .description =
        "Expands the suite (suites/README.md) into configurations and runs each, storing its results in the SQLite\n"
        "database as soon as it completes, with a progress line (i/N, elapsed, ETA) on stderr.",
    .positionals = {{"SUITE.json", "the suite file"}},
    .options =
        {{.name = "--db", .value_name = "PATH",
          .help = "results database (default results/bench.db, relative to the current directory)"},
         {.name = "--filter", .value_name = "REGEX",
          .help = "only configurations whose label (as --dry-run prints it) matches REGEX"},
         {.name = "--dry-run", .takes_value = false, .help = "print the plan (execution order, labels) and run nothing"},
         {.name = "--resume", .takes_value = false,
          .help = "continue the latest run of this exact suite file in the database: run the configurations without "
                  "a complete result (failed, interrupted, not started), leave the others untouched"},
         {.name = "--threads", .value_name = "N", .help = "threads per configuration (overrides the suite's \"threads\")",
          .range = IntRange{1, kMaxThreads}},
         {.name = "--data-root", .value_name = "DIR",
          .help = "evaluation data directory (overrides the suite's \"data_root\", $BENCH_DATA_ROOT and the default, "
                  "the cache `bench fetch-data` fills)"},
         {.name = "--report", .value_name = "DIR",
          .help = "where the run's report (plots + report.html, as `bench report` writes them) goes when the run "
                  "ends (default: reports/run-<ID> beside the database)"},
         {.name = "--no-report", .takes_value = false, .help = "do not make the report"},
         {.name = "--shard", .value_name = "I/N",
          .help = "run only part I of N disjoint parts of the plan, balanced by estimated cost, each model instance's "
                  "configurations kept together (with --dry-run: every part's size and cost); give each shard its "
                  "own --db and merge them with `bench merge` (results/README.md)"},
         {.name = "--costs-from", .value_name = "DB",
          .help = "with --shard: balance the parts by the wall times of complete configurations in DB (same "
                  "comparison key); every shard of a sweep must be given the same DB (or none)"}},
    .epilog = "Exit codes: 0 every configuration succeeded; 1 some failed (the others ran and were stored, and so was\n"
              "each failure with its message); 2 bad usage or an invalid suite (nothing is run).",
};

int cmd_run(const ParsedArgs& a) {
  RunOptions o;
  if (auto db = a.get("--db")) o.db_path = *db;
  if (auto f = a.get("--filter")) o.filter = *f;
  o.dry_run = a.flag("--dry-run");
  o.resume = a.flag("--resume");
  if (auto t = a.get_int("--threads")) o.threads = (int)*t;
  if (auto d = a.get("--data-root")) o.data_root = *d;
  if (auto s = a.get("--shard")) o.shard = parse_shard_spec(*s);
  if (auto c = a.get("--costs-from")) {
    if (!o.shard) throw InputError("--costs-from", "", "expected it together with --shard I/N (it only balances shards)");
    o.costs_from = *c;
  }
  o.command_line = "bench run";
  for (const auto& s : a.raw) o.command_line += " " + s;
  const RunOutcome out = run_suite(a.positional[0], o);
  if (o.dry_run || out.run_id == 0 || a.flag("--no-report")) return out.exit_code;
  // The report comes with every run: users get a database AND a readable report with no manual step. A failure to
  // make it is reported but does not change the run's exit code (the results are stored either way).
  namespace fs = std::filesystem;
  const std::string dir = a.get("--report").value_or(
      (fs::path(o.db_path).parent_path() / "reports" / ("run-" + std::to_string(out.run_id))).string());
  std::fprintf(stderr, "writing the report of run %lld to %s\n", (long long)out.run_id, dir.c_str());
  const int rc = run_python_entry("run", "report.py",
                                  {"--db", o.db_path, "--run", std::to_string(out.run_id), "--out", dir});
  if (rc != 0) std::fprintf(stderr, "bench run: warning: the report generator exited with %d; run `bench report` "
                                    "to retry\n", rc);
  return out.exit_code;
}

}  // namespace

BENCH_REGISTER_COMMAND(run, kSpec, cmd_run);

}  // namespace bp::cli
