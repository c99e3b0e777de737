// `bench fetch-data [TASK...]`: puts the tasks' data files into the data root (see harness/core/fetch_data.h).
#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/cli/command.h"
#include "harness/common/error.h"
#include "harness/core/data_files.h"
#include "harness/core/fetch_data.h"

namespace bp::cli {
namespace {

const CommandSpec kSpec{
    .name = "fetch-data",
    .summary = "download the tasks' data files into the data root, checked by sha256",
    .description =
        "Fetches the files the named tasks read with their default options (all registered tasks and the weight\n"
        "methods' calibration text when no TASK is given; \"calibration\" names that text alone) into the data root:\n"
        "--data-root, else $BENCH_DATA_ROOT, else ${XDG_CACHE_HOME:-~/.cache}/benchpress/data. Each file comes from\n"
        "a local mirror (--from, $BENCH_DATA_MIRROR), else an HTTP mirror with the data root's layout (--base-url,\n"
        "$BENCH_DATA_BASE_URL), else its canonical public source; it is checked against its sha256 before it is\n"
        "renamed into place. An interrupted download is resumed by the next run. Files already there and verified\n"
        "are left alone. Prints one line per file.",
    .positionals = {{"TASK", "a registered task (`bench list tasks`) or \"calibration\"", true, true}},
    .options = {{"--data-root", true, "DIR", "where the files go (default: $BENCH_DATA_ROOT, else the data cache)"},
                {"--from", true, "DIR", "copy from this local mirror (same layout as the data root)"},
                {"--base-url", true, "URL", "download URL/<path> instead of each file's canonical source"},
                {"--list", false, "", "print the files (path, sha256, source URL) without fetching"}},
    .epilog = "Exit codes: 0 every file is in place, 1 a file could not be fetched, 2 bad usage.",
};

int cmd_fetch_data(const ParsedArgs& a) {
  std::vector<DataFile> files;
  if (a.positional.empty()) {
    files = default_data_files();
  } else {
    for (const auto& name : a.positional)
      for (auto& f : task_data_files(name)) {
        bool dup = false;
        for (const auto& g : files) dup = dup || (g.relative_path == f.relative_path && g.sha256 == f.sha256);
        if (!dup) files.push_back(std::move(f));
      }
  }
  if (a.flag("--list")) {
    for (const auto& f : files) std::printf("%s\t%s\t%s\n", f.relative_path.c_str(), f.sha256.c_str(), f.url.c_str());
    return 0;
  }
  DataRoot root = resolve_data_root(a.get("--data-root"), std::nullopt);
  DataSource source = data_source_from_env();
  if (auto from = a.get("--from")) source = {*from, ""};
  if (auto base = a.get("--base-url")) source = {"", *base};
  int failed = 0;
  for (const auto& f : files) {
    try {
      FetchStatus s = fetch_data_file(f, root.path, source, stderr);
      const char* what = s == FetchStatus::AlreadyThere ? "already there" : s == FetchStatus::Copied ? "copied" : "downloaded";
      std::printf("%s: %s (sha256 %s)\n", f.relative_path.c_str(), what, f.sha256.substr(0, 16).c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      ++failed;
    }
  }
  std::fflush(stdout);
  std::fprintf(stderr, "data root %s (%s): %zu file(s), %d failed\n", root.path.c_str(), root.origin.c_str(),
               files.size(), failed);
  return failed ? 1 : 0;
}

}  // namespace

BENCH_REGISTER_COMMAND(fetch_data, kSpec, cmd_fetch_data);

}  // namespace bp::cli
