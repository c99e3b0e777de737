// `bench compare BASE HEAD`: runs reports/compare.py with the same arguments and exits with its status (0 no
// regression, 1 regression, 2 bad usage). The statistics live in Python (scipy); `bench compare --help` is the
// script's own help.
#include <string>
#include <vector>

#include "harness/cli/command.h"
#include "harness/cli/python_entry.h"

namespace bp::cli {

// Defined in cmd_report.cpp: finds reports/<script> and runs it with Python, returning its exit status.
namespace {
int cmd_compare(const std::vector<std::string>& args) { return run_python_entry("compare", "compare.py", args); }
}  // namespace

BENCH_REGISTER_COMMAND(compare, "compare",
                       "compare two runs metric by metric with noise-aware verdicts (exit 1 on regression)",
                       cmd_compare);

}  // namespace bp::cli
