// `bench export RUN_ID --format csv|json|md`: one run's results for other tools.
#include <cstdint>
#include <cstdio>
#include <fstream>

#include "harness/cli/command.h"
#include "harness/cli/run_view.h"
#include "harness/common/error.h"
#include "harness/core/store.h"

namespace bp::cli {
namespace {

const CommandSpec kSpec{
    .name = "export",
    .summary = "one run's results as csv, json or markdown",
    .description = "Writes one run's results to stdout (or FILE).",
    .positionals = {{"RUN_ID", "the run (`bench list runs`)"}},
    .options =
        {{.name = "--format", .value_name = "csv|json|md",
          .help = "csv: one row per stored value (every repetition), with the configuration's task, method, "
                  "parameters, model, status, error and identity (RFC 4180); json: the whole run: metadata, "
                  "configurations with their results, summaries and per-item results; md: markdown: metadata, the "
                  "`bench show` table, failures"},
         {.name = "--db", .value_name = "PATH", .help = "results database (default results/bench.db)"},
         {.name = "--output", .value_name = "FILE", .help = "write to FILE (whole, through a temporary file)"}},
};

int cmd_export(const ParsedArgs& a) {
  long long id = parse_int_arg("RUN_ID", a.positional[0], 1, INT64_MAX);
  std::string format = a.get("--format").value_or("");
  if (format != "csv" && format != "json" && format != "md")
    throw InputError("", "--format", "expected one of csv, json, md, got \"" + format + "\"");
  Store store(a.get("--db").value_or("results/bench.db"), /*create=*/false);
  json doc = store.load_run(id, /*with_items=*/format == "json");
  std::string out;
  if (format == "csv") {
    out = results_rows(doc).render_csv();
  } else if (format == "json") {
    out = doc.dump(2) + "\n";
  } else {
    out = "# BenchPress run " + std::to_string(id) + ": " + doc["run"]["suite_name"].get<std::string>() + "\n\n" +
          run_metadata_table(doc["run"]).render_markdown() + "\n## Results\n\n" + results_table(doc).render_markdown();
    std::string failures = failures_text(doc);
    if (!failures.empty()) out += "\n## Failed configurations\n\n```\n" + failures + "```\n";
  }
  if (auto path = a.get("--output")) {
    // Written beside the target and renamed, so a reader never sees half a file.
    std::string tmp = *path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary);
      if (!(f << out)) throw InputError(*path, "", "cannot write the file");
    }
    if (std::rename(tmp.c_str(), path->c_str()) != 0) throw InputError(*path, "", "cannot write the file");
  } else {
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(export_, kSpec, cmd_export);

}  // namespace bp::cli
