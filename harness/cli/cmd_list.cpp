// `bench list methods|datasets|models|runs`.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "harness/cli/command.h"
#include "harness/cli/table.h"
#include "harness/common/error.h"
#include "harness/core/model_registry.h"
#include "harness/core/registry.h"
#include "harness/core/store.h"
#include "harness/core/task.h"

namespace bp::cli {
namespace {

const CommandSpec kSpec{
    .name = "list",
    .summary = "list methods, datasets (tasks), models or runs",
    .description =
        "  methods    registered compression methods: name, kind, description (`bench describe NAME` for parameters)\n"
        "  datasets   registered evaluation tasks: name, protocol, description (`bench describe NAME` for options)\n"
        "  models     models `bench fetch-model` knows, and whether each is in the cache\n"
        "  runs       runs in the results database (--db), newest first",
    .positionals = {{"methods|datasets|models|runs", "what to list"}},
    .options = {{.name = "--db", .value_name = "PATH", .help = "results database for runs (default results/bench.db)"}},
};

std::string text(const json& v) { return v.is_null() ? "" : v.is_string() ? v.get<std::string>() : v.dump(); }

int cmd_list(const ParsedArgs& a) {
  const std::string what = a.positional[0];
  TextTable t;
  if (what == "methods") {
    t.headers = {"name", "kind", "description"};
    for (const auto* m : MethodRegistry::all()) t.rows.push_back({m->name, roles_text(m->roles), m->description});
  } else if (what == "datasets" || what == "tasks") {
    t.headers = {"name", "protocol", "description"};
    for (const auto* ti : TaskRegistry::all())
      t.rows.push_back({ti->name, ti->protocol + " v" + std::to_string(ti->protocol_version), ti->description});
  } else if (what == "models") {
    t.headers = {"name", "cached", "file", "source"};
    for (const auto& e : model_entries())
      t.rows.push_back({e.name, std::filesystem::exists(model_cache_path(e)) ? "yes" : "no", model_cache_path(e),
                        e.sources.empty() ? "" : e.sources.front().describe() +
                            (e.sources.size() > 1 ? fmt::format(" (+{} more)", e.sources.size() - 1) : "")});
  } else if (what == "runs") {
    Store store(a.get("--db").value_or("results/bench.db"), /*create=*/false);
    t.headers = {"id", "suite", "started", "status", "complete", "failed", "configurations", "commit"};
    for (const auto& r : store.list_runs()) {
      std::string commit = text(r["git_commit"]).substr(0, 12);
      if (r["git_dirty"] == 1) commit += "+dirty";
      t.rows.push_back({text(r["id"]), text(r["suite_name"]), text(r["started_at"]), text(r["status"]),
                        text(r["complete"]), text(r["failed"]), text(r["configurations"]), commit});
    }
  } else {
    throw InputError("", "", "expected one of methods, datasets, models, runs, got \"" + what + "\"; see `bench list --help`");
  }
  if (t.rows.empty()) {
    std::printf("(no %s)\n", what.c_str());
    return 0;
  }
  std::fputs(t.render_text().c_str(), stdout);
  return 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(list, kSpec, cmd_list);

}  // namespace bp::cli
