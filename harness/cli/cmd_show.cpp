// `bench show RUN_ID`: one run's results as a table.
#include <cstdint>
#include <cstdio>

#include "harness/cli/command.h"
#include "harness/cli/run_view.h"
#include "harness/core/store.h"

namespace bp::cli {
namespace {

const CommandSpec kSpec{
    .name = "show",
    .summary = "one run's results as a table",
    .description =
        "Prints the run's metadata and one row per (configuration, metric, labels): the value, or for repeated\n"
        "measurements the median with n, min..max and the coefficient of variation. Failed configurations are listed\n"
        "with their messages.",
    .positionals = {{"RUN_ID", "the run (`bench list runs`)"}},
    .options = {{.name = "--db", .value_name = "PATH", .help = "results database (default results/bench.db)"}},
};

int cmd_show(const ParsedArgs& a) {
  long long id = parse_int_arg("RUN_ID", a.positional[0], 1, INT64_MAX);
  Store store(a.get("--db").value_or("results/bench.db"), /*create=*/false);
  json doc = store.load_run(id, /*with_items=*/false);
  std::fputs(run_header_text(doc["run"]).c_str(), stdout);
  std::fputs("\n", stdout);
  std::fputs(results_table(doc).render_text().c_str(), stdout);
  std::string failures = failures_text(doc);
  if (!failures.empty()) std::printf("\nfailed configurations:\n%s", failures.c_str());
  return 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(show, kSpec, cmd_show);

}  // namespace bp::cli
