#pragma once
// Running helper programs (git, nvidia-smi, pip, unzip) without a shell, so arguments need no quoting.
#include <string>
#include <vector>

namespace bp {

struct ProcessResult {
  int exit_code = -1;   // 127 when the program could not be started (as a shell says); 128+N when killed by signal N
  std::string output;   // stdout (and stderr when merged)
};

// Runs argv[0] (looked up in PATH) with `argv`, optionally in `cwd`, and waits. stdin is /dev/null.
// merge_stderr: stderr joins `output`; otherwise stderr is discarded.
ProcessResult run_process(const std::vector<std::string>& argv, bool merge_stderr = false, const std::string& cwd = "");

// True when `program` is an executable found in PATH (or is an executable path).
bool program_available(const std::string& program);

}  // namespace bp
