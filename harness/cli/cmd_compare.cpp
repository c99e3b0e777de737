// `bench compare BASE HEAD`: runs reports/compare.py with the same arguments and exits with its status (0 no
// regression, 1 regression, 2 bad usage). The statistics live in Python (scipy); `bench compare --help` is the
// script's own help.
#include <string>
#include <vector>

#include "harness/cli/command.h"
#include "harness/cli/python_entry.h"

namespace bp::cli {

namespace {
const CommandSpec kSpec{
    .name = "compare",
    .summary = "compare two runs metric by metric with noise-aware verdicts (exit 1 on regression)",
    .description = "Runs reports/compare.py BASE HEAD [options] and exits with its status.",
    // The statistics and their options live in Python (scipy): the script owns its arguments and its --help.
    .forwards_to = "reports/compare.py",
};

// run_python_entry() is defined in cmd_report.cpp: finds reports/<script> and runs it with Python.
int cmd_compare(const ParsedArgs& a) { return run_python_entry("compare", "compare.py", a.raw); }

}  // namespace

BENCH_REGISTER_COMMAND(compare, kSpec, cmd_compare);

}  // namespace bp::cli
