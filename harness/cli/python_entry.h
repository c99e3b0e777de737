#pragma once
// Running the Python side of BenchPress (reports/*.py) from a subcommand; defined in cmd_report.cpp.
#include <string>
#include <vector>

namespace bp::cli {

// Runs `PYTHON reports/<script> args...` with this process's standard streams and returns its exit status (2 when
// the script cannot be found, 127 when no interpreter starts). `command` names the subcommand in messages.
int run_python_entry(const std::string& command, const std::string& script, const std::vector<std::string>& args);

}  // namespace bp::cli
